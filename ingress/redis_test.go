package ingress_test

import (
	"testing"

	"github.com/interopgate/interopgate/internal/redistest"
)

func startRedis(t *testing.T) *redistest.Server { return redistest.Start(t) }
