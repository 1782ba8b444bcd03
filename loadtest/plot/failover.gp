# failover.gp: answers and client errors per second while a node is killed and restarted,
# from failover_load.py's per_second.csv.
#   gnuplot -e "csv='per_second.csv'; out='failover.png'; title='…'; errors_total=0" \
#           -e "kill_t=10.0; restart_t=20.3; down_t=10.6; ready_t=20.5; duration=40" plot/failover.gp
# CSV columns: second,GET_ok,PUT_ok,GET_err,PUT_err,GET_max_ms,PUT_max_ms; second s counts the
# answers that arrived in [s, s+1) and is drawn at s + 0.5. A mark whose time is negative is
# not drawn (the proxy's log had no such line).
set datafile separator ","
set terminal pngcairo size 900,850 font "sans,10"
set output out
set multiplot layout 2,1 title title font ",12"
set grid
set xlabel "seconds since the load started"
set xrange [0:duration]
mark(t, name, color, row) = sprintf("set arrow from %f, graph 0 to %f, graph 1 nohead lc rgb '%s' dt 2 lw 2; set label '%s' at %f, graph %f left offset 0.5,0 tc rgb '%s'", t, t, color, name, t, row, color)
if (!exists("fault_label")) fault_label = "kill -9"
if (!exists("back_label")) back_label = "restarted"
if (kill_t >= 0) { eval mark(kill_t, fault_label, "#d62728", 0.95) }
if (down_t >= 0) { eval mark(down_t, "proxy: down", "#7f7f7f", 0.87) }
if (restart_t >= 0) { eval mark(restart_t, back_label, "#2ca02c", 0.95) }
if (ready_t >= 0) { eval mark(ready_t, "proxy: ready", "#7f7f7f", 0.79) }
set ylabel "answers per second"
set yrange [0:*]
set key below
plot csv skip 1 using ($1 + 0.5):2 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#1f77b4" title "GET 307 (right Location)", \
     csv skip 1 using ($1 + 0.5):3 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#ff7f0e" title "PUT 200", \
     csv skip 1 using ($1 + 0.5):($4 + $5) with impulses lw 4 lc rgb "#d62728" \
         title sprintf("client errors (non-2xx/3xx, resets, time-outs): %d in all", errors_total)
set ylabel "worst latency in the second, ms (log)"
set logscale y
set yrange [*:*]
set key below
plot csv skip 1 using ($1 + 0.5):($6 > 0 ? $6 : NaN) with linespoints pt 7 ps 0.6 lw 2 lc rgb "#1f77b4" title "GET", \
     csv skip 1 using ($1 + 0.5):($7 > 0 ? $7 : NaN) with linespoints pt 7 ps 0.6 lw 2 lc rgb "#ff7f0e" title "PUT"
unset multiplot
