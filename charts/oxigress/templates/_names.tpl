{{/*
Object names. Every name starts with the release name, so two releases coexist in one namespace.
Objects outside the release namespace (cluster-scoped ones, and Roles in watched namespaces) also carry
the release namespace: releases of the same name in two namespaces must not collide there either.
*/}}
{{- define "oxigress.name" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "oxigress.controllerName" -}}
{{- include "oxigress.name" . }}-controller
{{- end -}}

{{- define "oxigress.gatewayName" -}}
{{- include "oxigress.name" . }}-gateway
{{- end -}}

{{- define "oxigress.streamTokenName" -}}
{{- .Values.streamToken.existingSecret | default (printf "%s-stream-token" (include "oxigress.name" .)) -}}
{{- end -}}

{{/* <release>-<namespace>: prefix of every object outside the release namespace. */}}
{{- define "oxigress.globalName" -}}
{{- printf "%s-%s" .Release.Name .Release.Namespace -}}
{{- end -}}

{{/* The address gateways dial for snapshots. */}}
{{- define "oxigress.controllerAddress" -}}
{{- printf "%s.%s.svc:15051" (include "oxigress.controllerName" .) .Release.Namespace -}}
{{- end -}}
