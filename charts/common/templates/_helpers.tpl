{{/*
The helpers of every app store chart. Each takes the using chart's context (include "common.name" .),
so .Chart, .Release and .Values are that chart's, never this library's.
*/}}

{{/* Names and labels shared by the templates. */}}
{{- define "common.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "common.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "common.selectorLabels" -}}
app.kubernetes.io/name: {{ include "common.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "common.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "common.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: xinchuang-appstore
{{- end -}}

{{- define "common.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The Pod's placement and security: the role fills affinity with kubernetes.io/arch. */}}
{{- define "common.podCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .Values.securityContext.runAsUser }}
  runAsGroup: {{ .Values.securityContext.runAsGroup }}
  fsGroup: {{ .Values.securityContext.runAsGroup }}
  seccompProfile:
    type: RuntimeDefault
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The container's security. The root file system is read-only unless the chart's Chart.yaml says
otherwise with the annotation xinchuang.cloud/root-filesystem: writable (an upstream image that
writes beside its programs at start): a property of the image, not a value a site sets.
*/}}
{{- define "common.containerSecurity" -}}
{{- $rootFilesystem := index (.Chart.Annotations | default dict) "xinchuang.cloud/root-filesystem" | default "read-only" -}}
{{- if not (has $rootFilesystem (list "read-only" "writable")) -}}
{{- fail (printf "chart %s: the annotation xinchuang.cloud/root-filesystem in Chart.yaml is %q; it is read-only (the default) or writable" .Chart.Name $rootFilesystem) -}}
{{- end -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: {{ eq $rootFilesystem "read-only" }}
  capabilities:
    drop: [ALL]
{{- end -}}
