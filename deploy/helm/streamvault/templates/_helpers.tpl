{{/*
Helpers shared by every component. A component is addressed by its values key (stg, dds, cdm);
"streamvault.components" maps each key to the binary (and resource suffix) it runs.
*/}}

{{- define "streamvault.components" -}}
stg: stg-service
dds: dds-service
cdm: cdm-service
{{- end -}}

{{/* Keys a component takes whose top-level value is the default of all three. */}}
{{- define "streamvault.settingKeys" -}}
{{- list "image" "replicaCount" "containerPort" "config" "resources" "podAnnotations" "podLabels" "nodeSelector" "tolerations" "affinity" "topologySpreadConstraints" "priorityClassName" "strategy" "autoscaling" "keda" "staticMembership" "podDisruptionBudget" | toJson -}}
{{- end -}}

{{- define "streamvault.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "streamvault.fullname" -}}
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

{{- define "streamvault.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels common to every object of the release. */}}
{{- define "streamvault.labels" -}}
helm.sh/chart: {{ include "streamvault.chart" . }}
app.kubernetes.io/name: {{ include "streamvault.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: streamvault
{{- end -}}

{{/* (dict "root" $ "bin" "stg-service") */}}
{{- define "streamvault.componentName" -}}
{{- printf "%s-%s" (include "streamvault.fullname" .root) .bin | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "streamvault.selectorLabels" -}}
app.kubernetes.io/name: {{ include "streamvault.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .bin }}
{{- end -}}

{{/* "stg-service" -> the component label of its `helm test` pod, which the component's
NetworkPolicy lets in. */}}
{{- define "streamvault.testComponent" -}}
{{- printf "%s-test" . -}}
{{- end -}}

{{- define "streamvault.componentLabels" -}}
{{ include "streamvault.labels" .root }}
app.kubernetes.io/component: {{ .bin }}
{{- end -}}

{{- define "streamvault.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "streamvault.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
(list base override) -> YAML of base deep-merged with override: maps merge key by key, any
other value of override (false, 0, "", a list, null) replaces the base's. (sprig's
mergeOverwrite would keep the base's value where the override is false or 0.)
*/}}
{{- define "streamvault.deepMerge" -}}
{{- $out := deepCopy (index . 0) -}}
{{- range $key, $value := (index . 1) -}}
{{- $current := get $out $key -}}
{{- if and (kindIs "map" $value) (kindIs "map" $current) -}}
{{- $_ := set $out $key (include "streamvault.deepMerge" (list $current $value) | fromYaml) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* (dict "root" $ "key" "stg") -> YAML of the component's settings merged over the defaults. */}}
{{- define "streamvault.settings" -}}
{{- $defaults := dict -}}
{{- range $k := include "streamvault.settingKeys" . | fromJsonArray -}}
{{- if hasKey $.root.Values $k -}}
{{- $_ := set $defaults $k (get $.root.Values $k) -}}
{{- end -}}
{{- end -}}
{{- $own := omit (get .root.Values .key | default dict) "enabled" -}}
{{- /* A component naming an image of its own does not inherit the global digest (it pins
another image): it sets its own, or runs by its tag. */ -}}
{{- $ownImage := get $own "image" | default dict -}}
{{- if and (or (hasKey $ownImage "repository") (hasKey $ownImage "tag")) (not (hasKey $ownImage "digest")) -}}
{{- $_ := set $own "image" (merge (dict "digest" "") (deepCopy $ownImage)) -}}
{{- end -}}
{{- include "streamvault.deepMerge" (list $defaults $own) -}}
{{- end -}}

{{/* The text of a config value: integers without a decimal point or exponent, "" for null. */}}
{{- define "streamvault.envValue" -}}
{{- if kindIs "invalid" . -}}
{{- else if or (kindIs "float64" .) (kindIs "float32" .) -}}
{{- . | int64 | toString -}}
{{- else -}}
{{- . | toString -}}
{{- end -}}
{{- end -}}

{{/* (dict "root" $ "key" "stg" "bin" "stg-service" "c" $settings): fail early on what the service would refuse at start. */}}
{{- define "streamvault.validate" -}}
{{- $c := .c -}}
{{- $bin := .bin -}}
{{- $v := .root.Values -}}
{{- $cfg := dict -}}
{{- range $name, $value := $c.config -}}
{{- $text := include "streamvault.envValue" $value | trim -}}
{{- if $text }}{{ $_ := set $cfg $name $text }}{{ end -}}
{{- end -}}
{{- $required := list "KAFKA_HOST" "KAFKA_PORT" "KAFKA_CONSUMER_GROUP" "KAFKA_SOURCE_TOPIC" "PG_WAREHOUSE_HOST" "PG_WAREHOUSE_PORT" "PG_WAREHOUSE_DBNAME" "PG_WAREHOUSE_USER" -}}
{{- if ne $bin "cdm-service" }}{{ $required = append $required "KAFKA_DESTINATION_TOPIC" }}{{ end -}}
{{- if eq $bin "stg-service" }}{{ $required = concat $required (list "REDIS_HOST" "REDIS_PORT") }}{{ end -}}
{{- range $name := $required -}}
{{- if not (hasKey $cfg $name) -}}
{{- fail (printf "%s: config.%s is required (set it in config or %s.config)" $bin $name $.key) -}}
{{- end -}}
{{- end -}}
{{- $startup := $v.probes.startup | default dict -}}
{{- $budget := mul ($startup.periodSeconds | default 10) ($startup.failureThreshold | default 3) -}}
{{- if lt (int $budget) 60 -}}
{{- fail (printf "probes.startup: periodSeconds x failureThreshold is %d s, under 60 s: a start that waits for its warehouse would be restarted before it serves" (int $budget)) -}}
{{- end -}}
{{- $mount := $v.caCertificate.mountPath | default "/crt" | trimSuffix "/" -}}
{{- $hasCa := or $v.caCertificate.secretName $v.caCertificate.configMapName -}}
{{- if and $v.caCertificate.secretName $v.caCertificate.configMapName -}}
{{- fail "caCertificate: set secretName or configMapName, not both" -}}
{{- end -}}
{{- if hasKey $cfg "KAFKA_CONSUMER_USERNAME" -}}
{{- if not (and $v.existingSecret $v.secretKeys.KAFKA_CONSUMER_PASSWORD) -}}
{{- fail (printf "%s: config.KAFKA_CONSUMER_USERNAME is set (SASL_SSL): the password must come from a Secret: set existingSecret and secretKeys.KAFKA_CONSUMER_PASSWORD" $bin) -}}
{{- end -}}
{{- $caFile := get $cfg "KAFKA_CA_FILE" | default "/crt/YandexInternalRootCA.crt" -}}
{{- if and (hasPrefix (printf "%s/" $mount) $caFile) (not $hasCa) -}}
{{- fail (printf "%s: SASL_SSL reads the CA file %s: set caCertificate.secretName or caCertificate.configMapName (mounted at %s), or point config.KAFKA_CA_FILE at a file in the image (/etc/ssl/certs/ca-certificates.crt for a public CA)" $bin $caFile $mount) -}}
{{- end -}}
{{- end -}}
{{- $sslmode := get $cfg "PG_WAREHOUSE_SSLMODE" | default "prefer" -}}
{{- if hasPrefix "verify-" $sslmode -}}
{{- $root := get $cfg "PG_WAREHOUSE_SSLROOTCERT" -}}
{{- if not $root -}}
{{- fail (printf "%s: PG_WAREHOUSE_SSLMODE=%s needs config.PG_WAREHOUSE_SSLROOTCERT" $bin $sslmode) -}}
{{- end -}}
{{- if and (hasPrefix (printf "%s/" $mount) $root) (not $hasCa) -}}
{{- fail (printf "%s: PG_WAREHOUSE_SSLROOTCERT=%s is under %s but no caCertificate.secretName or caCertificate.configMapName is set" $bin $root $mount) -}}
{{- end -}}
{{- end -}}
{{- if $c.autoscaling.enabled -}}
{{- if gt (int $c.autoscaling.minReplicas) (int $c.autoscaling.maxReplicas) -}}
{{- fail (printf "%s: autoscaling.minReplicas (%v) is above autoscaling.maxReplicas (%v)" $bin $c.autoscaling.minReplicas $c.autoscaling.maxReplicas) -}}
{{- end -}}
{{- end -}}
{{- if $c.keda.enabled -}}
{{- if $c.autoscaling.enabled -}}
{{- fail (printf "%s: keda.enabled and autoscaling.enabled: two autoscalers for one Deployment; choose one" $bin) -}}
{{- end -}}
{{- if gt (int $c.keda.maxReplicas) (int $c.keda.partitions) -}}
{{- fail (printf "%s: keda.maxReplicas (%v) is above keda.partitions (%v): a replica beyond the partition count has nothing to read" $bin $c.keda.maxReplicas $c.keda.partitions) -}}
{{- end -}}
{{- if gt (int $c.keda.minReplicas) (int $c.keda.maxReplicas) -}}
{{- fail (printf "%s: keda.minReplicas (%v) is above keda.maxReplicas (%v)" $bin $c.keda.minReplicas $c.keda.maxReplicas) -}}
{{- end -}}
{{- end -}}
{{- if $c.podDisruptionBudget.enabled -}}
{{- if and (not (kindIs "invalid" $c.podDisruptionBudget.minAvailable)) (not (kindIs "invalid" $c.podDisruptionBudget.maxUnavailable)) -}}
{{- fail (printf "%s: podDisruptionBudget: set maxUnavailable or minAvailable, not both (set the other to null)" $bin) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* (dict "root" $ "bin" "stg-service" "c" $settings) -> the container's env list. */}}
{{- define "streamvault.env" -}}
{{- $c := .c -}}
{{- $v := .root.Values -}}
- name: HTTP_PORT
  value: {{ $c.containerPort | int | toString | quote }}
{{- range $name := keys $c.config | sortAlpha }}
{{- $text := include "streamvault.envValue" (get $c.config $name) }}
{{- if $text }}
- name: {{ $name }}
  value: {{ $text | quote }}
{{- end }}
{{- end }}
{{- if $c.staticMembership }}
- name: KAFKA_GROUP_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}
{{- if $v.existingSecret }}
{{- $secrets := list "PG_WAREHOUSE_PASSWORD" }}
{{- if include "streamvault.envValue" $c.config.KAFKA_CONSUMER_USERNAME }}{{ $secrets = append $secrets "KAFKA_CONSUMER_PASSWORD" }}{{ end }}
{{- if eq .bin "stg-service" }}{{ $secrets = append $secrets "REDIS_PASSWORD" }}{{ end }}
{{- range $name := $secrets | sortAlpha }}
{{- $key := get $v.secretKeys $name }}
{{- if $key }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.existingSecret }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* (dict "c" $settings) -> the Kafka bootstrap list "host:port,host:port" of KAFKA_HOST/KAFKA_PORT. */}}
{{- define "streamvault.bootstrapServers" -}}
{{- $port := include "streamvault.envValue" .c.config.KAFKA_PORT -}}
{{- $hosts := list -}}
{{- range $h := splitList "," (include "streamvault.envValue" .c.config.KAFKA_HOST) -}}
{{- $h = trim $h -}}
{{- if $h -}}
{{- if or (regexMatch "^\\[.*\\]:[0-9]+$" $h) (and (not (hasPrefix "[" $h)) (regexMatch "^[^:]+:[0-9]+$" $h)) -}}
{{- $hosts = append $hosts $h -}}
{{- else -}}
{{- $hosts = append $hosts (printf "%s:%s" $h $port) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- join "," $hosts -}}
{{- end -}}

{{/*
The image reference of an image setting: repository@digest when a digest is set (it pins the
image by content and wins over the tag), else repository:tag (tag "" = the chart's appVersion).
*/}}
{{- define "streamvault.imageRef" -}}
{{- if .image.digest -}}
{{ .image.repository }}@{{ .image.digest }}
{{- else -}}
{{ .image.repository }}:{{ .image.tag | default .chart.AppVersion }}
{{- end -}}
{{- end }}

{{/*
(dict "root" $ "name" container-name "args" list "resources" map) -> the pod spec of a
warehouse task that runs `vault` once (the migration Job, the refresh CronJob's jobs): the
services' image, security context, PG_WAREHOUSE_* and RUST_LOG from config, the password from
existingSecret, the CA mount, extraEnv/extraVolumes/extraVolumeMounts, nodeSelector and
tolerations. No ServiceAccount token: a pre-install hook runs before the chart's ServiceAccount
exists, and `vault` asks nothing of the Kubernetes API.
*/}}
{{- define "streamvault.warehouseTaskPod" -}}
{{- $v := .root.Values -}}
restartPolicy: Never
automountServiceAccountToken: false
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
containers:
  - name: {{ .name }}
    image: {{ include "streamvault.imageRef" (dict "image" $v.image "chart" .root.Chart) | quote }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    args:
      {{- toYaml .args | nindent 6 }}
    env:
      {{- range $name := keys $v.config | sortAlpha }}
      {{- if or (hasPrefix "PG_WAREHOUSE_" $name) (eq $name "RUST_LOG") }}
      {{- $text := include "streamvault.envValue" (get $v.config $name) }}
      {{- if $text }}
      - name: {{ $name }}
        value: {{ $text | quote }}
      {{- end }}
      {{- end }}
      {{- end }}
      {{- if and $v.existingSecret $v.secretKeys.PG_WAREHOUSE_PASSWORD }}
      - name: PG_WAREHOUSE_PASSWORD
        valueFrom:
          secretKeyRef:
            name: {{ $v.existingSecret }}
            key: {{ $v.secretKeys.PG_WAREHOUSE_PASSWORD }}
      {{- end }}
      {{- with $v.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      {{- toYaml $v.securityContext | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- if or $v.caCertificate.secretName $v.caCertificate.configMapName }}
      - name: ca-certificate
        mountPath: {{ $v.caCertificate.mountPath }}
        readOnly: true
      {{- end }}
      {{- with $v.extraVolumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 16Mi
  {{- if $v.caCertificate.secretName }}
  - name: ca-certificate
    secret:
      secretName: {{ $v.caCertificate.secretName }}
      defaultMode: 0444
  {{- else if $v.caCertificate.configMapName }}
  - name: ca-certificate
    configMap:
      name: {{ $v.caCertificate.configMapName }}
      defaultMode: 0444
  {{- end }}
  {{- with $v.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
(dict "config" map "names" list "hosts" list) -> JSON: the ports a NetworkPolicy lets out to,
sorted, each once: the values of the port variables `names`, and the `:port` of each entry of
the host lists `hosts` ("host:port,host" as KAFKA_HOST and PG_WAREHOUSE_HOST take them).
*/}}
{{- define "streamvault.configPorts" -}}
{{- $config := .config -}}
{{- $ports := list -}}
{{- range .names -}}
{{- $port := include "streamvault.envValue" (get $config .) -}}
{{- if $port -}}
{{- $ports = append $ports $port -}}
{{- end -}}
{{- end -}}
{{- range .hosts -}}
{{- range $entry := splitList "," (include "streamvault.envValue" (get $config .)) -}}
{{- $port := regexFind ":[0-9]+$" (trim $entry) | trimPrefix ":" -}}
{{- if $port -}}
{{- $ports = append $ports $port -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $ports | uniq | sortAlpha | toJson -}}
{{- end -}}

{{/*
(dict "ports" list "to" peers) -> a NetworkPolicy's egress rules: DNS, then the ports to the
peers (any address when there are none).
*/}}
{{- define "streamvault.egressRules" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
- ports:
    {{- range .ports }}
    - port: {{ . | int }}
      protocol: TCP
    {{- end }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
