// The operator dashboard, `GET /_/` on the proxy: one page, built once at start-up, that reads
// /_/status and /_/metrics every `Limits.dashboardRefreshMs` with a little inline JavaScript
// (no framework, no external asset) and draws what the original's sentinel printed to the
// console:
//
//   cards   health, nodes up, client requests per second, p50/p90/p99 latency over the last
//           `Limits.dashboardWindowMs` (from the histogram's bucket counts, now minus a minute
//           ago), failovers, clock offset
//   table   every node: state, readiness, ping round trip, requests per second, failures
//           (total and in a row), key-range share (primary ranges / ranges), pool connections,
//           queue, last ping
//   moves   only while a membership change moves data (/_/status "membership.moving", or a
//           node whose "handoff" says "moving"): the generations, and each handing-off node's
//           progress (keys scanned of held, records sent, keys waiting, rate, ETA); hidden
//           otherwise, and when /_/status has no "membership" at all
//
// It is an operator route like /_/status (OperatorAccess): the page itself names nothing, but
// the routes it reads do, and the browser reads them with the page's own access.

package enum DashboardPage {
    package static func make() -> [UInt8] {
        var body: [UInt8] = []
        Pages.appendHead("LinkRing cluster", mainClass: "wide", to: &body)
        body.append(markup)
        body.append("<script>var REFRESH_MS=")
        Decimal.append(Limits.dashboardRefreshMs, to: &body)
        body.append(",WINDOW_MS=")
        Decimal.append(Limits.dashboardWindowMs, to: &body)
        body.append(";</script>")
        body.append(script)
        Pages.appendEnd(to: &body)
        return body
    }

    private static let markup: StaticString = """
        <p class="next" id="summary">Reading /_/status and /_/metrics…</p><p class="err" id="err" hidden></p>\
        <div class="cards" id="cards"></div>\
        <h2>Nodes</h2><table id="nodes"><thead><tr><th>Node</th><th>State</th><th>Readiness</th>\
        <th class="n">Ping RTT</th><th class="n">Requests/s</th><th class="n">Failures</th><th class="n">In a row</th>\
        <th class="n">Ring share</th><th class="n">Connections</th><th class="n">Queue</th><th class="n">Last ping</th></tr></thead>\
        <tbody></tbody></table>\
        <section id="moves" hidden><h2>Moves in progress</h2><p class="next" id="movesSummary"></p><table><thead><tr>\
        <th>Node</th><th>Handoff</th><th class="n">Keys scanned / held</th><th class="n">Records sent</th>\
        <th class="n">Keys waiting</th><th class="n">Records/s</th><th class="n">ETA</th></tr></thead><tbody id="movesBody"></tbody></table></section>\
        <h2>Requests by status</h2><p id="codes" class="next">–</p>\
        <p class="next">Refreshed every few seconds from <a href="/_/status">/_/status</a> and <a href="/_/metrics">/_/metrics</a>. \
        Rates are over the last refresh, latency percentiles over the last minute.</p>
        """

    private static let script: StaticString = """
        <script>(function(){
        var samples=[];function $(i){return document.getElementById(i)}
        function esc(s){return String(s).replace(/[&<>"']/g,function(c){return"&#"+c.charCodeAt(0)+";"})}
        function metrics(text){var b=[],codes={};text.split("\\n").forEach(function(l){
        var m=l.match(/^linkring_proxy_request_duration_seconds_bucket\\{le="([^"]+)"\\} (\\d+)/);
        if(m)b.push([m[1]=="+Inf"?Infinity:parseFloat(m[1]),+m[2]]);
        m=l.match(/^linkring_proxy_requests_total\\{method="(\\w+)",status="(\\d+)"\\} (\\d+)/);
        if(m)codes[m[2]]=(codes[m[2]]||0)+(+m[3])});return{buckets:b,codes:codes}}
        function quantile(d,q){var n=d.length?d[d.length-1][1]:0;if(!n)return null;var want=q*n;
        for(var i=0;i<d.length;i++){if(d[i][1]>=want){var lc=i?d[i-1][1]:0,lb=i?d[i-1][0]:0,ub=d[i][0];
        if(ub==Infinity)return lb;return lb+(ub-lb)*(want-lc)/Math.max(1,d[i][1]-lc)}}return null}
        function ms(s){return s==null?"–":s<0.001?(s*1e6).toFixed(0)+" µs":(s*1e3).toFixed(s<0.01?2:1)+" ms"}
        function rate(now,old,f){if(!old)return null;var dt=(now.t-old.t)/1000;return dt>0?Math.max(0,(f(now)-f(old))/dt):null}
        function num(x,d){return x==null?"–":x.toFixed(d||0)}
        function card(name,value,id){return'<div class="card" id="'+id+'">'+esc(name)+"<b>"+esc(value)+"</b></div>"}
        function render(st,mt){var now={t:Date.now(),total:st.requests,nodes:{},buckets:mt.buckets};
        st.nodes.forEach(function(n){now.nodes[n.address]=n.requests});
        var last=samples.length?samples[samples.length-1]:null;samples.push(now);
        while(samples.length>2&&now.t-samples[0].t>WINDOW_MS)samples.shift();
        var first=samples[0]!==now?samples[0]:null,window=[];
        if(first)now.buckets.forEach(function(b,i){var o=first.buckets[i];window.push([b[0],b[1]-(o?o[1]:0)])});
        else window=now.buckets;
        var up=st.nodes.filter(function(n){return n.state=="up"}).length;
        $("summary").textContent="Proxy "+st.proxy+": "+st.ring.nodes+" nodes, "+st.ring.replicas+" replicas per key, "
        +st.ring.ranges+" key ranges. Updated "+new Date(now.t).toLocaleTimeString()+".";
        $("err").hidden=true;
        $("cards").innerHTML=card("Health",st.healthy?"ok":"degraded","c-health")+card("Nodes up",up+" / "+st.nodes.length,"c-up")
        +card("Requests/s",num(rate(now,last,function(s){return s.total}),1),"c-rate")+card("Requests",st.requests,"c-total")
        +card("p50 (1 min)",ms(quantile(window,.5)),"c-p50")+card("p90 (1 min)",ms(quantile(window,.9)),"c-p90")
        +card("p99 (1 min)",ms(quantile(window,.99)),"c-p99")+card("Failovers",st.failovers,"c-failovers")
        +card("Clock offset",st.clock.offsetMs==null?"–":st.clock.offsetMs+" ms","c-clock")
        +(st.membership?card("Generation",st.membership.generation+(st.membership.moving?" (moving)":""),"c-generation"):"");
        $("nodes").tBodies[0].innerHTML=st.nodes.map(function(n){
        var r=rate(now,last,function(s){return s.nodes[n.address]||0});
        return'<tr data-node="'+esc(n.address)+'"><td><code>'+esc(n.address)+'</code></td><td class="'+esc(n.state)+'">'+esc(n.state)
        +"</td><td>"+esc(n.readiness)+'</td><td class="n">'+(n.roundTripMs==null?"–":esc(n.roundTripMs)+" ms")
        +'</td><td class="n">'+num(r,1)+'</td><td class="n">'+esc(n.failures)+'</td><td class="n">'+esc(n.failuresInARow)
        +'</td><td class="n">'+(100*n.primaryRanges/Math.max(1,st.ring.ranges)).toFixed(1)+' %</td><td class="n">'+esc(n.connections)
        +'</td><td class="n">'+esc(n.queued)+'</td><td class="n">'+(n.lastPingMsAgo==null?"never":esc(n.lastPingMsAgo)+" ms ago")+"</td></tr>"}).join("");
        var mb=st.membership,hand=st.nodes.filter(function(n){return n.handoff&&n.handoff.progress=="moving"});
        var moving=!!mb&&(mb.moving||hand.length>0);$("moves").hidden=!moving;
        if(moving){$("movesSummary").textContent="Membership generation "+mb.generation+(mb.movingFrom&&mb.movingFrom.length?
        ", moving from generation "+mb.movingFrom.join(", "):"")+"; "+hand.length+" node(s) handing data off.";
        $("movesBody").innerHTML=hand.map(function(n){var h=n.handoff;return"<tr><td><code>"+esc(n.address)+"</code></td><td>"+esc(h.progress)
        +'</td><td class="n">'+esc(h.keysScanned)+" / "+esc(h.keysHeld)+'</td><td class="n">'+esc(h.sentRecords)+'</td><td class="n">'
        +esc(h.keysWaiting)+'</td><td class="n">'+esc(h.recordsPerSecond)+'</td><td class="n">'+(h.etaMs/1000).toFixed(1)+" s</td></tr>"}).join("")}
        var codes=Object.keys(mt.codes).sort();$("codes").textContent=codes.length?codes.map(function(c){return c+": "+mt.codes[c]}).join(" · "):"none yet"}
        function tick(){Promise.all([fetch("/_/status",{cache:"no-store"}).then(function(r){if(!r.ok)throw new Error("/_/status answered "+r.status);return r.json()}),
        fetch("/_/metrics",{cache:"no-store"}).then(function(r){return r.text()})]).then(function(a){render(a[0],metrics(a[1]))})
        .catch(function(e){$("err").textContent="Cannot read the cluster's state: "+e.message;$("err").hidden=false})}
        tick();setInterval(tick,REFRESH_MS)})()</script>
        """
}
