\set u random(1, 100)
\set co 1
\set st 1
\set it 1
\set cmid random(1, 2000000000)
\set ord 0
\set hl 604800.0
\set w 1.0
\set wk random(1, 2000000000)
