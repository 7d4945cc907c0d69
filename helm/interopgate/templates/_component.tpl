{{/*
One component (gateway, revalidator or filter): its config as a ConfigMap, a Deployment whose
pods roll when the config (or the inline dependency set) changes, a Service with named rpc and
metrics ports, and a PDB. The pods sleep before SIGTERM (preStop) so the Service stops routing to
them first, and get a grace period that covers the sleep and the process's own shutdown.
Call with (dict "root" $ "name" "gateway" "v" .Values.gateway).
*/}}
{{- define "interopgate.component" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $v := .v -}}
{{- $full := printf "%s-%s" (include "interopgate.fullname" $root) $name | trunc 63 | trimSuffix "-" -}}
{{- $config := $v.config -}}
{{- $depSet := include "interopgate.dependencySetConfigMap" $root -}}
{{- $depSetJSON := include "interopgate.dependencySetJSON" $root -}}
{{- /* The config key naming the dependency-set file, set through the environment. */ -}}
{{- $depSetEnv := get (dict "gateway" "INTEROPGATE_GATEWAY_INTEROP_DEPENDENCY_SET" "revalidator" "INTEROPGATE_REVALIDATOR_INTEROP_DEPENDENCY_SET" "filter" "INTEROPGATE_FILTER_FILTER_DEPENDENCY_SET") $name -}}
{{- /* The process's own shutdown timeout after SIGTERM, in seconds (cmd/interopgate). */ -}}
{{- $shutdown := get (dict "gateway" 30 "revalidator" 10 "filter" 10) $name -}}
{{- $grace := int $v.terminationGracePeriodSeconds -}}
{{- $preStop := int $v.preStopSleepSeconds -}}
{{- if lt $grace (add $preStop $shutdown | int) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%d) is below %s.preStopSleepSeconds (%d) + the %s's own shutdown timeout (%d s): Kubernetes would kill it while it drains" $name $grace $name $preStop $name $shutdown) -}}
{{- end -}}
{{- /* The preStop sleep action is Kubernetes 1.30's (beta, on by default): older API servers refuse the pod. */ -}}
{{- if and (gt $preStop 0) (semverCompare "<1.30-0" $root.Capabilities.KubeVersion.Version) -}}
{{- fail (printf "%s.preStopSleepSeconds (%d) needs Kubernetes 1.30 or later (a preStop sleep action); this cluster is %s: set it to 0 (no preStop hook)" $name $preStop $root.Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- /* The chart's own volumes' names are taken: a second volume of the same name is refused by the API server. */ -}}
{{- $volumes := list "config" "tmp" -}}
{{- if $depSet }}{{- $volumes = append $volumes "dependency-set" -}}{{- end -}}
{{- range $v.extraVolumes -}}
{{- if has .name (list "config" "tmp" "dependency-set") -}}
{{- fail (printf "%s.extraVolumes: the name %q is the chart's own volume: choose another" $name .name) -}}
{{- end -}}
{{- $volumes = append $volumes .name -}}
{{- end -}}
{{- /* Mounts the API server would refuse: on the chart's own paths, or naming no volume. */ -}}
{{- $paths := list "/tmp" "/etc/interopgate" -}}
{{- if $depSet }}{{- $paths = append $paths (include "interopgate.dependencySetDir" $root) -}}{{- end -}}
{{- range $v.extraVolumeMounts -}}
{{- if has (trimSuffix "/" (clean .mountPath)) $paths -}}
{{- fail (printf "%s.extraVolumeMounts: %s is mounted by the chart already" $name .mountPath) -}}
{{- end -}}
{{- if not (has .name $volumes) -}}
{{- fail (printf "%s.extraVolumeMounts: %q names no volume (give it in %s.extraVolumes)" $name .name $name) -}}
{{- end -}}
{{- end -}}
{{- /* A config naming the chart's dependency-set directory needs the set mounted there, or the pod fails at start. */ -}}
{{- $depSetDir := include "interopgate.dependencySetDir" $root -}}
{{- /* A value (not a comment) naming a path under it, however written (/etc//interop/, /etc/./interop/). */ -}}
{{- if and (regexMatch "(?m)^[^#\\n]*[\"']/etc/+(\\./+)*interop/" $config) (not $depSet) -}}
{{- $mounted := false -}}
{{- range $v.extraVolumeMounts -}}
{{- if hasPrefix (trimSuffix "/" (clean .mountPath)) $depSetDir -}}{{- $mounted = true -}}{{- end -}}
{{- end -}}
{{- if not $mounted -}}
{{- fail (printf "%s.config names %s/, but no dependency set is mounted there: set dependencySet.json or dependencySet.existingConfigMap (or mount it with %s.extraVolumeMounts)" $name $depSetDir $name) -}}
{{- end -}}
{{- end -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $full }}
  labels:
    {{- include "interopgate.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
data:
  config.toml: |
    {{- $config | nindent 4 }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $full }}
  labels:
    {{- include "interopgate.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  {{- if not (and (eq $name "gateway") $v.autoscaling.enabled) }}
  replicas: {{ $v.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "interopgate.selector" (dict "root" $root "component" $name) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "interopgate.selector" (dict "root" $root "component" $name) | nindent 8 }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ $config | sha256sum }}
        {{- if $depSetJSON }}
        checksum/dependency-set: {{ $depSetJSON | sha256sum }}
        {{- end }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $grace }}
      containers:
        - name: {{ $name }}
          image: {{ include "interopgate.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            - {{ $name }}
            - --config=/etc/interopgate/config.toml
            - --rpc.addr=0.0.0.0
            - --rpc.port={{ $v.port }}
            - --metrics.enabled
            - --metrics.addr=0.0.0.0
            - --metrics.port={{ $root.Values.metrics.port }}
            - --log.format=json
          ports:
            - name: rpc
              containerPort: {{ $v.port }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $root.Values.metrics.port }}
              protocol: TCP
          {{- if or $root.Values.redis.existingSecret $depSet $v.extraEnv }}
          env:
            {{- if $root.Values.redis.existingSecret }}
            - name: INTEROPGATE_REDIS_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $root.Values.redis.existingSecret }}
                  key: {{ $root.Values.redis.passwordKey }}
            {{- end }}
            {{- if $depSet }}
            - name: {{ $depSetEnv }}
              value: {{ include "interopgate.dependencySetPath" $root }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- end }}
          {{- if gt $preStop 0 }}
          lifecycle:
            preStop:
              sleep:
                seconds: {{ $preStop }}
          {{- end }}
          livenessProbe:
            httpGet: {path: /healthz, port: rpc}
            periodSeconds: 10
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /readyz, port: rpc}
            periodSeconds: 5
            failureThreshold: 2
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /etc/interopgate
              readOnly: true
            - name: tmp
              mountPath: /tmp
            {{- if $depSet }}
            - name: dependency-set
              mountPath: {{ include "interopgate.dependencySetDir" $root }}
              readOnly: true
            {{- end }}
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ $full }}
        - name: tmp
          emptyDir: {}
        {{- if $depSet }}
        - name: dependency-set
          configMap:
            name: {{ $depSet }}
            items:
              - key: {{ include "interopgate.dependencySetKey" $root }}
                path: dependency-set.json
        {{- end }}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if $root.Values.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: {{ $root.Values.topologySpread.maxSkew }}
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "interopgate.selector" (dict "root" $root "component" $name) | nindent 14 }}
        - maxSkew: {{ $root.Values.topologySpread.maxSkew }}
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "interopgate.selector" (dict "root" $root "component" $name) | nindent 14 }}
      {{- end }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $full }}
  labels:
    {{- include "interopgate.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
  {{- with $v.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $v.service.type }}
  selector:
    {{- include "interopgate.selector" (dict "root" $root "component" $name) | nindent 4 }}
  ports:
    - name: rpc
      port: {{ $v.port }}
      targetPort: rpc
      protocol: TCP
---
{{- /* The metrics on a ClusterIP Service of their own: a public service.type must not publish them. */}}
apiVersion: v1
kind: Service
metadata:
  name: {{ printf "%s-metrics" ($full | trunc 55 | trimSuffix "-") }}
  labels:
    {{- include "interopgate.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
    interopgate.io/metrics: "true"
spec:
  type: ClusterIP
  selector:
    {{- include "interopgate.selector" (dict "root" $root "component" $name) | nindent 4 }}
  ports:
    - name: metrics
      port: {{ $root.Values.metrics.port }}
      targetPort: metrics
      protocol: TCP
{{- if $v.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $full }}
  labels:
    {{- include "interopgate.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  minAvailable: {{ $v.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels:
      {{- include "interopgate.selector" (dict "root" $root "component" $name) | nindent 6 }}
{{- end }}
{{- end -}}
