{{/* Names and labels shared by every template. */}}
{{- define "interopgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "interopgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "interopgate.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "interopgate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The dependency set's JSON when given inline (dependencySet.json), "" otherwise. */}}
{{- define "interopgate.dependencySetJSON" -}}
{{- get (.Values.dependencySet | default dict) "json" | default "" | trim -}}
{{- end -}}

{{/* The key of the dependency set's ConfigMap that is the file. */}}
{{- define "interopgate.dependencySetKey" -}}
{{- get (.Values.dependencySet | default dict) "key" | default "dependency-set.json" -}}
{{- end -}}

{{/*
The ConfigMap holding the dependency set (the chart's own, or dependencySet.existingConfigMap);
"" without one. Refuses both at once, and inline JSON that is not a dependency set's object.
*/}}
{{- define "interopgate.dependencySetConfigMap" -}}
{{- $existing := get (.Values.dependencySet | default dict) "existingConfigMap" | default "" -}}
{{- $json := include "interopgate.dependencySetJSON" . -}}
{{- if and $json $existing -}}
{{- fail "dependencySet: set json or existingConfigMap, not both" -}}
{{- end -}}
{{- if $json -}}
{{- $parsed := fromJson $json -}}
{{- if hasKey $parsed "Error" -}}
{{- fail (printf "dependencySet.json is not a JSON object: %s" (get $parsed "Error")) -}}
{{- end -}}
{{- if not (get $parsed "dependencies") -}}
{{- fail "dependencySet.json names no chain: op-supervisor's format is {\"dependencies\": {\"901\": {}, \"902\": {}}}" -}}
{{- end -}}
{{- printf "%s-dependency-set" (include "interopgate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $existing -}}
{{- end -}}
{{- end -}}

{{/* Where the pods see the dependency set (a read-only ConfigMap volume). */}}
{{- define "interopgate.dependencySetDir" -}}
/etc/interop
{{- end -}}
{{- define "interopgate.dependencySetPath" -}}
{{ include "interopgate.dependencySetDir" . }}/dependency-set.json
{{- end -}}
