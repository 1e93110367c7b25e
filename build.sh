#!/usr/bin/env bash
# One script for the README's two commands:
#   ./build.sh test    build without warnings, then run every test project
#   ./build.sh sample  run the AgentHost sample (the main job) on models it finds or synthesizes
set -euo pipefail
cd "$(dirname "$0")"
cmd="${1:-test}"; shift || true
case "$cmd" in
  test)
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
