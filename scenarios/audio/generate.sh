#!/usr/bin/env bash
# Regenerates the recorded clips from clips.tsv (name<TAB>text[<TAB>seconds])
# with espeak-ng and sox (Debian: apt-get install espeak-ng sox): 16 kHz mono
# 16-bit WAV, plus a sidecar .txt transcript per clip. Where a third column
# gives a length, the clip is stretched to it with sox's `tempo` (pitch kept):
# the speech mocks recognise a clip by its speech duration, so the clips of
# one scenario are spread at least 0.8 s apart. The clips are committed; this
# script only documents how they were made.
set -euo pipefail
cd "$(dirname "$0")"
while IFS=$'\t' read -r name text seconds; do
  [ -n "$name" ] || continue
  espeak-ng -v en-gb+m3 -s 155 -w "/tmp/$name.raw.wav" "$text"
  sox "/tmp/$name.raw.wav" -r 16000 -c 1 -b 16 "/tmp/$name.wav"
  if [ -n "${seconds:-}" ]; then
    factor=$(python3 -c "print($(soxi -D "/tmp/$name.wav") / $seconds)")
    sox "/tmp/$name.wav" "$name.wav" tempo -s "$factor"
  else
    mv "/tmp/$name.wav" "$name.wav"
  fi
  rm -f "/tmp/$name.raw.wav" "/tmp/$name.wav"
  printf '%s\n' "$text" > "$name.txt"
done < clips.tsv
