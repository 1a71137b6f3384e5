{{/* The release's name for its objects: <release>-driftline, or the release name when it says driftline already */}}
{{- define "driftline.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "driftline.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "driftline.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Whether Kafka clients authenticate with SASL */}}
{{- define "driftline.sasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol -}}true{{- end -}}
{{- end -}}

{{/* Whether to render a ServiceMonitor: asked for, or `auto` and the cluster has its CRD */}}
{{- define "driftline.serviceMonitor" -}}
{{- $asked := toString .Values.serviceMonitor.enabled -}}
{{- if or (eq $asked "true") (and (eq $asked "auto") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) -}}true{{- end -}}
{{- end -}}

{{/*
One role's workers (scoring or learning): a StatefulSet, so that each pod's name is a stable
DRIFTLINE_WORKER_ID (Kafka's static membership: a pod restarted under its name takes its
partitions back without a rebalance). Every environment variable is a setting the worker reads.
*/}}
{{- define "driftline.workers" -}}
{{- $root := .root -}}
{{- $role := .role -}}
{{- $spec := .spec -}}
{{- $name := printf "%s-%s" (include "driftline.fullname" $root) $role -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $name }}
  labels:
    {{- include "driftline.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $role }}
spec:
  serviceName: {{ $name }}
  replicas: {{ $spec.replicas }}
  podManagementPolicy: Parallel
  updateStrategy:
    type: RollingUpdate
  selector:
    matchLabels:
      {{- include "driftline.selector" $root | nindent 6 }}
      app.kubernetes.io/component: {{ $role }}
  template:
    metadata:
      labels:
        {{- include "driftline.selector" $root | nindent 8 }}
        app.kubernetes.io/component: {{ $role }}
      annotations:
        checksum/values: {{ toJson $root.Values | sha256sum | trunc 16 }}
    spec:
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: 30
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
      containers:
        - name: worker
          image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag | default $root.Chart.AppVersion }}"
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: ["worker", "--agents", {{ $spec.agents | quote }}]
          ports:
            - name: http
              containerPort: {{ $root.Values.webPort }}
              protocol: TCP
          env:
            - name: DRIFTLINE_WORKER_ID
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: DRIFTLINE_WEB_BIND
              value: "0.0.0.0"
            - name: DRIFTLINE_WEB_PORT
              value: {{ $root.Values.webPort | quote }}
            - name: DRIFTLINE_TOPIC_PREFIX
              value: {{ $root.Values.topicPrefix | quote }}
            - name: DRIFTLINE_PARTITIONS
              value: {{ $root.Values.partitions | quote }}
            - name: DRIFTLINE_REPLICATION_FACTOR
              value: {{ $root.Values.replicationFactor | quote }}
            - name: DRIFTLINE_SESSION_TIMEOUT_S
              value: {{ $root.Values.sessionTimeoutSeconds | quote }}
            - name: DRIFTLINE_STATE_DIR
              value: /var/lib/driftline
            - name: DRIFTLINE_KAFKA_BOOTSTRAP
              value: {{ required "kafka.bootstrap names the brokers" $root.Values.kafka.bootstrap | quote }}
            - name: DRIFTLINE_KAFKA_SECURITY_PROTOCOL
              value: {{ $root.Values.kafka.securityProtocol | quote }}
            {{- if include "driftline.sasl" $root }}
            - name: DRIFTLINE_KAFKA_SASL_MECHANISM
              value: {{ $root.Values.kafka.saslMechanism | quote }}
            - name: DRIFTLINE_KAFKA_USERNAME
              value: {{ required "kafka.username: SASL needs a user" $root.Values.kafka.username | quote }}
            - name: DRIFTLINE_KAFKA_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ required "kafka.passwordSecret.name: SASL needs a password" $root.Values.kafka.passwordSecret.name }}
                  key: {{ $root.Values.kafka.passwordSecret.key }}
            {{- end }}
            {{- if $root.Values.kafka.caSecret.name }}
            - name: DRIFTLINE_KAFKA_CA_FILE
              value: /etc/driftline/kafka/{{ $root.Values.kafka.caSecret.key }}
            {{- end }}
            - name: DRIFTLINE_REDIS_URL
              value: {{ required "redis.url names the Redis" $root.Values.redis.url | quote }}
            {{- if $root.Values.redis.passwordSecret.name }}
            - name: DRIFTLINE_REDIS_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $root.Values.redis.passwordSecret.name }}
                  key: {{ $root.Values.redis.passwordSecret.key }}
            {{- end }}
            - name: DRIFTLINE_MODEL_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ required "modelKeySecret.name: every worker signs with the same key" $root.Values.modelKeySecret.name }}
                  key: {{ $root.Values.modelKeySecret.key }}
            {{- if $root.Values.alertWebhookSecret.name }}
            - name: DRIFTLINE_ALERT_WEBHOOK
              valueFrom:
                secretKeyRef:
                  name: {{ $root.Values.alertWebhookSecret.name }}
                  key: {{ $root.Values.alertWebhookSecret.key }}
            {{- end }}
            {{- if $root.Values.pipelineConfigMap }}
            - name: DRIFTLINE_PIPELINE
              value: /etc/driftline/pipeline/pipeline.toml
            {{- end }}
          startupProbe:
            httpGet: {path: /health, port: http}
            periodSeconds: 2
            failureThreshold: {{ $root.Values.probes.startupFailureThreshold }}
            timeoutSeconds: {{ $root.Values.probes.timeoutSeconds }}
          livenessProbe:
            httpGet: {path: /health, port: http}
            periodSeconds: {{ $root.Values.probes.periodSeconds }}
            timeoutSeconds: {{ $root.Values.probes.timeoutSeconds }}
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /health, port: http}
            periodSeconds: {{ $root.Values.probes.periodSeconds }}
            timeoutSeconds: {{ $root.Values.probes.timeoutSeconds }}
          resources:
            {{- toYaml $spec.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: state
              mountPath: /var/lib/driftline
            {{- if $root.Values.kafka.caSecret.name }}
            - name: kafka-ca
              mountPath: /etc/driftline/kafka
              readOnly: true
            {{- end }}
            {{- if $root.Values.redis.caSecret.name }}
            - name: redis-ca
              mountPath: /etc/driftline/redis
              readOnly: true
            {{- end }}
            {{- if $root.Values.pipelineConfigMap }}
            - name: pipeline
              mountPath: /etc/driftline/pipeline
              readOnly: true
            {{- end }}
      volumes:
        - name: state
          emptyDir: {}
        {{- if $root.Values.kafka.caSecret.name }}
        - name: kafka-ca
          secret:
            secretName: {{ $root.Values.kafka.caSecret.name }}
        {{- end }}
        {{- if $root.Values.redis.caSecret.name }}
        - name: redis-ca
          secret:
            secretName: {{ $root.Values.redis.caSecret.name }}
        {{- end }}
        {{- if $root.Values.pipelineConfigMap }}
        - name: pipeline
          configMap:
            name: {{ $root.Values.pipelineConfigMap }}
        {{- end }}
{{- end -}}
