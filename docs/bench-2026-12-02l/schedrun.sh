#!/bin/bash
# schedrun.sh: one release round with chat; perf sched record for 10 s inside each chat phase
rm -f sr.err
./lt2 --server ./zgld-bt release --apps 1000 --concurrency 32 --with-chat 1000 --rounds 1 2> >(while IFS= read -r l; do echo "$(date +%s.%N) $l"; done > sr.err) > sr.json &
L=$!
until grep -q "without the batch" sr.err 2>/dev/null; do sleep 0.2; done
sleep 8; perf sched record -o ps-without.data -- sleep 10 > /dev/null 2>&1
until grep -q "while releasing" sr.err 2>/dev/null; do sleep 0.2; done
sleep 15; perf sched record -o ps-with.data -- sleep 10 > /dev/null 2>&1
wait $L
