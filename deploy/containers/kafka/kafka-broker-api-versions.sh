#!/bin/sh
# What the apache/kafka image's script of this name does: the compose health check runs it.
exec java -Xmx64m -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties -cp '/opt/kafka/libs/*' \
  kafka.admin.BrokerApiVersionsCommand "$@"
