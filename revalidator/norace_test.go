//go:build !race

package revalidator

const raceEnabled = false
