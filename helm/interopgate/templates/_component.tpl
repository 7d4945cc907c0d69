{{/*
One component (gateway, revalidator or filter): its config as a ConfigMap, a Deployment whose
pods roll when the config changes, a Service with named rpc and metrics ports, and a PDB.
Call with (dict "root" $ "name" "gateway" "v" .Values.gateway).
*/}}
{{- define "interopgate.component" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $v := .v -}}
{{- $full := printf "%s-%s" (include "interopgate.fullname" $root) $name | trunc 63 | trimSuffix "-" -}}
{{- $config := $v.config -}}
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
          env:
            {{- if $root.Values.redis.existingSecret }}
            - name: INTEROPGATE_REDIS_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $root.Values.redis.existingSecret }}
                  key: {{ $root.Values.redis.passwordKey }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
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
      volumes:
        - name: config
          configMap:
            name: {{ $full }}
        - name: tmp
          emptyDir: {}
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
