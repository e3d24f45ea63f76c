{{/* Names ------------------------------------------------------------------------------------------ */}}

{{- define "castellan.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "castellan.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "castellan.agentName" -}}
{{- printf "%s-agent" (include "castellan.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "castellan.testName" -}}
{{- printf "%s-test" (include "castellan.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The CA's in-cluster host name, and the address agents dial. */}}
{{- define "castellan.caHost" -}}
{{- printf "%s.%s.svc" (include "castellan.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "castellan.caAddress" -}}
{{- if .Values.agent.caAddress -}}
{{- .Values.agent.caAddress -}}
{{- else -}}
{{- printf "%s:%d" (include "castellan.caHost" .) (int .Values.ca.grpcPort) -}}
{{- end -}}
{{- end -}}

{{/* Labels (kubernetes.io "Recommended Labels") ---------------------------------------------------- */}}

{{- define "castellan.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "castellan.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: castellan
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "castellan.caSelector" -}}
app.kubernetes.io/name: {{ include "castellan.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: ca
{{- end -}}

{{- define "castellan.agentSelector" -}}
app.kubernetes.io/name: {{ include "castellan.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end -}}

{{/* The image reference: digest wins over tag; the tag defaults to the chart's appVersion. */}}
{{- define "castellan.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Ledger and replicas ----------------------------------------------------------------------------- */}}

{{- define "castellan.postgres" -}}
{{- if .Values.ledger.postgres.urlSecret.name -}}true{{- end -}}
{{- end -}}

{{- define "castellan.replicas" -}}
{{- if not (kindIs "invalid" .Values.ca.replicas) -}}
{{- int .Values.ca.replicas -}}
{{- else if include "castellan.postgres" . -}}
2
{{- else -}}
1
{{- end -}}
{{- end -}}

{{- define "castellan.ledgerClaim" -}}
{{- default (printf "%s-ledger" (include "castellan.fullname" .)) .Values.ledger.sqlite.existingClaim -}}
{{- end -}}

{{/* The bundle ConfigMaps the CA publishes: castellan-root-cert, plus istio-ca-root-cert in Istio mode. */}}
{{- define "castellan.bundleConfigMapNames" -}}
{{- $names := list "castellan-root-cert" -}}
{{- if .Values.istio.enabled -}}{{- $names = append $names .Values.istio.rootCertConfigMap -}}{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* Token audiences; in Istio mode the CA itself adds istio-ca (istioCompat), so it is not listed here. */}}
{{- define "castellan.audiences" -}}
{{- toJson (.Values.ca.authentication.audiences | uniq) -}}
{{- end -}}

{{/*
Checks the combinations values.schema.json cannot express. Every template includes it, so a bad
combination fails the render with one message that says what to change.
*/}}
{{- define "castellan.validate" -}}
{{- if not .Values.trustDomain -}}
{{- fail "trustDomain is required: the SPIFFE trust domain of every identity this CA issues, written into its root and fixed from then on. Set it, e.g. --set trustDomain=cluster.local (Istio's default; use your mesh's meshConfig.trustDomain)." -}}
{{- end -}}
{{- $replicas := int (include "castellan.replicas" .) -}}
{{- if and .Values.ca.enabled (not (include "castellan.postgres" .)) (gt $replicas 1) -}}
{{- fail (printf "ca.replicas is %d but the ledger is SQLite, a file only one replica may write: set ledger.postgres.urlSecret.name (a Secret with a postgres:// URL) for 2+ replicas, or ca.replicas=1." $replicas) -}}
{{- end -}}
{{- if and .Values.agent.enabled (not .Values.distribution.enabled) -}}
{{- fail "agent.enabled needs distribution.enabled: the agent verifies the CA with the castellan-root-cert ConfigMap the CA publishes in every namespace." -}}
{{- end -}}
{{- if and .Values.agent.enabled (has .Release.Namespace .Values.distribution.excludeNamespaces) -}}
{{- fail (printf "distribution.excludeNamespaces lists %s, the release namespace: the agent there needs the castellan-root-cert ConfigMap." .Release.Namespace) -}}
{{- end -}}
{{- if and .Values.istio.enabled (not .Values.distribution.enabled) -}}
{{- fail "istio.enabled needs distribution.enabled: pilot-agent verifies the CA with the istio-ca-root-cert ConfigMap in its namespace." -}}
{{- end -}}
{{- if and .Values.istio.enabled (eq .Values.istio.rootCertConfigMap "castellan-root-cert") -}}
{{- fail "istio.rootCertConfigMap must differ from castellan-root-cert (both are published)." -}}
{{- end -}}
{{- range concat .Values.ca.servingDnsNames .Values.istio.servingDnsNames -}}
{{- if regexMatch "^[0-9.]+$" . -}}
{{- fail (printf "%s in servingDnsNames is an IP address: put it in ca.servingIpAddresses (an IP SAN; a DNS name never matches an address)." .) -}}
{{- end -}}
{{- end -}}
{{- if and (not .Values.ca.enabled) .Values.agent.enabled (not .Values.agent.caAddress) -}}
{{- fail "ca.enabled=false with the agent: set agent.caAddress to the existing CA (host:port)." -}}
{{- end -}}
{{- end -}}

{{/* The restricted Pod Security profile's container settings. */}}
{{- define "castellan.restrictedContainerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
