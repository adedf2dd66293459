#!/usr/bin/env bash
# Regenerates the recorded clips from clips.tsv (name<TAB>text) with espeak-ng
# and sox (Debian: apt-get install espeak-ng sox): 16 kHz mono 16-bit WAV, plus
# a sidecar .txt transcript per clip. The clips are committed; this script only
# documents how they were made.
set -euo pipefail
cd "$(dirname "$0")"
while IFS=$'\t' read -r name text; do
  [ -n "$name" ] || continue
  espeak-ng -v en-gb+m3 -s 155 -w "/tmp/$name.raw.wav" "$text"
  sox "/tmp/$name.raw.wav" -r 16000 -c 1 -b 16 "$name.wav"
  rm -f "/tmp/$name.raw.wav"
  printf '%s\n' "$text" > "$name.txt"
done < clips.tsv
