{{/*
Labels. Selectors are name + instance (the release) + component, so no selector of one release matches
a pod of another. Call with (dict "ctx" $ "component" "gateway").
*/}}
{{- define "oxigress.selectorLabels" -}}
app.kubernetes.io/name: oxigress
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "oxigress.labels" -}}
{{ include "oxigress.selectorLabels" . }}
app.kubernetes.io/part-of: oxigress
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- end -}}

{{/* Pod labels: the user's `labels` first, then ours, which win (selectors cannot be overridden). */}}
{{- define "oxigress.podLabels" -}}
{{- $ours := include "oxigress.labels" . | fromYaml -}}
{{- toYaml (merge $ours (.values.labels | default dict)) -}}
{{- end -}}
