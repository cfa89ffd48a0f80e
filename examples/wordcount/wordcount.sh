#!/bin/sh
# Reads text on stdin; prints "count word" for the ten most frequent words, most first.
tr -cs '[:alnum:]' '\n' | tr '[:upper:]' '[:lower:]' | grep -v '^$' | sort | uniq -c | sort -k1,1nr -k2 | head -n 10 |
  awk '{print $1, $2}'
