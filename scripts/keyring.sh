#!/usr/bin/env bash
# Starts gnome-keyring-daemon (secrets only) in the current D-Bus session,
# unlocked with the password $1, and prints its environment for `eval`.
# Returns once the daemon owns org.freedesktop.secrets: a client asking
# before that makes D-Bus start a second, locked daemon, which can only
# prompt — and there is no one to answer (seen once in CI).
set -euo pipefail
started=$(printf '%s' "$1" | gnome-keyring-daemon --unlock --components=secrets)
for _ in $(seq 1 100); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
        printf '%s\n' "$started"
        exit 0
    fi
    sleep 0.1
done
echo "gnome-keyring-daemon did not take org.freedesktop.secrets within 10 s" >&2
exit 1
