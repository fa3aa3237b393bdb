#!/usr/bin/env bash
# Start the local PostgreSQL and RabbitMQ that the tests use, if they are down.
# Safe to run repeatedly: a service that already answers is left alone.
set -euo pipefail

wait_for() {  # wait_for <seconds> <command...>
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then return 1; fi
    sleep 1
  done
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  wait_for 60 pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL did not start" >&2; exit 1; }
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached
  wait_for 120 rabbitmqctl await_startup || { echo "RabbitMQ did not start" >&2; exit 1; }
fi
echo "PostgreSQL and RabbitMQ are up"

# The LDAP group tests start their own slapd (tests/ldap_server.py); only the binaries
# are needed. Installing the package also starts the system's slapd: stop it, the
# tests never use it.
if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then
  echo "installing slapd and ldap-utils"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q slapd ldap-utils >/dev/null 2>&1 || {
    apt-get update -q >/dev/null && apt-get install -y -q slapd ldap-utils >/dev/null
  }
  if [ -r /var/run/slapd/slapd.pid ]; then
    kill "$(cat /var/run/slapd/slapd.pid)" 2>/dev/null || true
  fi
fi
echo "slapd is installed"
