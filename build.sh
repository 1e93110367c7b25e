#!/usr/bin/env bash
# One script for the README's two commands:
#   ./build.sh test    install Debian's chromium if missing (the dashboard test), build without warnings, then run every test project
#   ./build.sh sample  run the AgentHost sample (the main job) on models it finds or synthesizes
set -euo pipefail
cd "$(dirname "$0")"
cmd="${1:-test}"; shift || true
case "$cmd" in
  test)
    # The dashboard's browser test drives Debian's headless Chromium (Playwright's driver ships in its NuGet package; no browser download).
    if [ ! -x /usr/bin/chromium ]; then
      sudo=""
      if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
      $sudo apt-get update -qq
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
    fi
    dotnet build ModelManager.sln -c Release -warnaserror
    for project in tests/ModelManager.Tests tests/ModelManager.IntegrationTests; do
      dotnet test "$project" -c Release --no-build --blame-hang-timeout 5m --logger "console;verbosity=minimal" "$@"
    done
    ;;
  sample)
    dotnet run -c Release --project samples/AgentHost -- "$@"
    ;;
  *)
    echo "usage: ./build.sh test|sample [args]" >&2; exit 2 ;;
esac
