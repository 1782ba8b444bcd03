# rebalance.gp: answers per second and p99 latency per second while a node is added, then one
# removed, from failover_load.py's per_second.csv (rebalance.bash).
#   gnuplot -e "csv='per_second.csv'; out='rebalance.png'; title='…'; duration=60" \
#           -e "add_t=10; added_t=14; remove_t=20; removed_t=24; errors_total=0" plot/rebalance.gp
# CSV columns: second,GET_ok,PUT_ok,GET_err,PUT_err,GET_max_ms,PUT_max_ms,GET_p99_ms,PUT_p99_ms.
set datafile separator ","
set terminal pngcairo size 900,850 font "sans,10"
set output out
set multiplot layout 2,1 title title font ",12"
set grid
set xlabel "seconds since the load started"
set xrange [0:duration]
mark(t, name, color, row) = sprintf("set arrow from %f, graph 0 to %f, graph 1 nohead lc rgb '%s' dt 2 lw 2; set label '%s' at %f, graph %f left offset 0.5,0 tc rgb '%s'", t, t, color, name, t, row, color)
eval mark(add_t, "add node 4 (a 5th)", "#2ca02c", 0.95)
eval mark(added_t, "moved", "#7f7f7f", 0.87)
eval mark(remove_t, "remove node 0", "#d62728", 0.95)
eval mark(removed_t, "moved", "#7f7f7f", 0.87)
set ylabel "answers per second"
set yrange [0:*]
set key below
plot csv skip 1 using ($1 + 0.5):2 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#1f77b4" title "GET 307 (right Location)", \
     csv skip 1 using ($1 + 0.5):3 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#ff7f0e" title "PUT 200", \
     csv skip 1 using ($1 + 0.5):($4 + $5) with impulses lw 4 lc rgb "#d62728" \
         title sprintf("client errors and misses: %d in all", errors_total)
set ylabel "p99 latency in the second, ms"
set yrange [0:*]
plot csv skip 1 using ($1 + 0.5):8 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#1f77b4" title "GET p99", \
     csv skip 1 using ($1 + 0.5):9 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#ff7f0e" title "PUT p99"
unset multiplot
