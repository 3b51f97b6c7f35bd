{{/* Pod-level security: non-root uid 65532 (the image's user). */}}
{{- define "oxigress.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security: read-only root filesystem, no privilege escalation, no capabilities. */}}
{{- define "oxigress.containerSecurityContext" -}}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Scheduling, pull secrets and priority shared by both pods. Call with (dict "ctx" $ "values" $v). */}}
{{- define "oxigress.podScheduling" -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .ctx.Values.global.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .ctx.Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Extra env (`env: {NAME: value}`), sorted by name. */}}
{{- define "oxigress.extraEnv" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The stream token, mounted from the release's Secret: no API access needed to read it. */}}
{{- define "oxigress.streamTokenVolume" -}}
- name: stream-token
  secret:
    secretName: {{ include "oxigress.streamTokenName" . }}
    defaultMode: 0440
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "oxigress.streamTokenMount" -}}
- name: stream-token
  mountPath: /etc/oxigress/stream-token
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "oxigress.podNameEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end -}}
