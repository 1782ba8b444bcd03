# sweep.gp: throughput, latency and server CPU per request against concurrency, from
# sweep.bash's CSV (CPU per request is the steadier figure on a shared machine).
#   gnuplot -e "csv='sweep.csv'; method='get'; out='sweep-get.png'; title='…'" plot/sweep.gp
# CSV columns: target,method,connections,rps,p50_ms,p99_ms,p999_ms,errors,cpu_us_per_req,
# rows grouped by target and method (so each series is one contiguous run of rows).
set datafile separator ","
set terminal pngcairo size 900,1200 font "sans,10"
set output out
set multiplot layout 3,1 title title font ",12"
set logscale x 2
set xrange [0.8:320]
set xtics (1, 2, 4, 8, 16, 32, 64, 128, 256)
set grid
set key bottom right
set xlabel "concurrent connections (wrk -t1 -cN)"
pick(target, column) = (strcol(1) eq target && strcol(2) eq method) ? column(column) : NaN
set ylabel "requests/s"
set yrange [0:*]
plot csv skip 1 using 3:(pick("proxy", 4)) with linespoints lw 2 pt 7 title "through the proxy (4 nodes, 2 replicas)", \
     csv skip 1 using 3:(pick("node", 4)) with linespoints lw 2 pt 5 title "one node, direct"
set ylabel "latency, ms (log)"
set logscale y
set yrange [*:*]
set key top left
plot csv skip 1 using 3:(pick("proxy", 5)) with linespoints lw 2 pt 7 lc 1 title "proxy p50", \
     csv skip 1 using 3:(pick("proxy", 6)) with linespoints lw 2 pt 7 lc 1 dt 2 title "proxy p99", \
     csv skip 1 using 3:(pick("proxy", 7)) with linespoints lw 1 pt 7 lc 1 dt 3 title "proxy p99.9", \
     csv skip 1 using 3:(pick("node", 5)) with linespoints lw 2 pt 5 lc 2 title "node p50", \
     csv skip 1 using 3:(pick("node", 6)) with linespoints lw 2 pt 5 lc 2 dt 2 title "node p99", \
     csv skip 1 using 3:(pick("node", 7)) with linespoints lw 1 pt 5 lc 2 dt 3 title "node p99.9"
set ylabel "server CPU, µs per request (log)"
plot csv skip 1 using 3:(pick("proxy", 9)) with linespoints lw 2 pt 7 lc 1 title "proxy + 4 nodes", \
     csv skip 1 using 3:(pick("node", 9)) with linespoints lw 2 pt 5 lc 2 title "one node"
unset multiplot
