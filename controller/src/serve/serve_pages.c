/* SPDX-License-Identifier: MIT */
/*
 * The pages of patchlab serve: one HTML shell per page with the HTML
 * report's style sheet and an inline script (no asset from the network)
 * that fetches the page's JSON from /api/ and renders it, then follows
 * /events and fetches again when a change concerns the page.
 *
 * Escaping: the script builds the DOM with textContent and setAttribute,
 * never markup from a string, except the suite's gate, matrix and cut map,
 * which the server renders with the HTML report's own escaping
 * (pl_report_html_suite) and the page inserts as it is. The Content-Security
 * -Policy (serve.c) lets only the script with this response's nonce run.
 *
 * For tests: window.plEvents lists the sequence number of every event the
 * page received, in order; document.body.dataset.seq is the sequence of the
 * data on screen; data-live on <body> is "live" while the stream is up.
 */
#include <errno.h>
#include <string.h>

#include "patchlab/report.h"
#include "serve_internal.h"

static const char extra_css[] =
	"nav{background:#1d2329;color:#e8eaed;padding:8px 20px;display:flex;"
	"gap:18px;align-items:center}"
	"nav a{color:#e8eaed;text-decoration:none;font-weight:600}"
	"nav .live{margin-left:auto;font-size:12px;color:#b0b7bf}"
	"body[data-live=live] nav .live{color:#81c784}"
	"#app{max-width:1240px;margin:0 auto;padding:0 20px 40px}"
	"#app>header.gate{margin:0 -20px}"
	"td.text,pre.console{white-space:pre-wrap;word-break:break-all}"
	".err{color:#c62828;font-weight:600}";

/* The script every page shares. */
static const char common_js[] =
	"'use strict';\n"
	"window.plEvents=[];\n"
	"const PL={seq:0,last:0,busy:false,again:false,urls:[],"
	"render:null,relevant:null,es:null};\n"
	/* el('td',{cls:'x'},'text',child): children are text or nodes */
	"function el(tag,attrs,...kids){const e=document.createElement(tag);"
	"for(const k in attrs||{}){const v=attrs[k];if(v===null||v===undefined)"
	"continue;if(k==='cls')e.className=v;else e.setAttribute(k,String(v));}"
	"for(const c of kids){if(c===null||c===undefined)continue;"
	"e.append(typeof c==='object'?c:String(c));}return e;}\n"
	"function link(href,text){return el('a',{href:href},text);}\n"
	"function when(ns){if(!ns)return '';return new Date(ns/1e6)"
	".toISOString().replace('T',' ').slice(0,19);}\n"
	"function badge(v){const s=v||'open';return el('span',"
	"{cls:'badge v-'+s},s);}\n"
	"function verdictOf(r){return r.state==='open'?'open':r.verdict;}\n"
	"function table(id,heads,rows){const t=el('table',{id:id});"
	"t.append(el('tr',null,...heads.map(h=>el('th',null,h))));"
	"for(const r of rows)t.append(r);return t;}\n"
	"function live(s){document.body.dataset.live=s;"
	"document.getElementById('live').textContent=s;}\n"
	"function boardLink(id){return link('/boards/'+encodeURIComponent(id),"
	"id);}\n"
	"function runRow(r){return el('tr',{id:'run-'+r.id,'data-run':r.id},"
	"el('td',{cls:'num'},link('/runs/'+r.id,'#'+r.id)),"
	"el('td',null,boardLink(r.board_id)),el('td',null,r.board_type),"
	"el('td',null,r.scenario),el('td',null,r.cut?r.cut.text:''),"
	"el('td',null,badge(verdictOf(r))),el('td',{cls:'text'},r.reason),"
	"el('td',null,when(r.finished_ns||r.started_ns)));}\n"
	"const RUN_HEADS=['run','board','type','scenario','cut point',"
	"'verdict','reason','time'];\n"
	"async function refresh(){if(PL.busy){PL.again=true;return;}"
	"PL.busy=true;try{do{PL.again=false;const docs=[];"
	"for(const u of PL.urls){const r=await fetch(u,{cache:'no-store'});"
	"if(!r.ok)throw new Error(u+': HTTP '+r.status);"
	"docs.push(await r.json());}"
	"const seq=Math.min(...docs.map(d=>d.seq));"
	"const app=document.getElementById('app');app.replaceChildren();"
	"PL.render(app,...docs);document.body.dataset.seq=seq;"
	"if(!PL.es&&!PL.polling)stream(seq);}while(PL.again);}"
	"catch(e){const app=document.getElementById('app');"
	"app.replaceChildren(el('p',{cls:'err'},String(e.message||e)));}"
	"finally{PL.busy=false;}}\n"
	"function onChange(c){if(c.seq<=PL.last)return;PL.last=c.seq;"
	"window.plEvents.push(c.seq);if(PL.relevant(c))refresh();}\n"
	/* EventSource reconnects by itself and sends Last-Event-ID; when it
	 * gives up (CLOSED) we open a new one from the last id we saw */
	"function stream(since){if(!window.EventSource){poll(since);return;}"
	"if(PL.last<since)PL.last=since;"
	"const es=new EventSource('/events?since='+PL.last);PL.es=es;"
	"es.onopen=()=>{live('live');};"
	"es.onmessage=(m)=>{live('live');onChange(JSON.parse(m.data));};"
	"es.onerror=()=>{live('reconnecting');if(es.readyState===2){"
	"PL.es=null;setTimeout(()=>{if(!PL.es)stream(PL.last);},1000);}};}\n"
	/* the polling fallback: GET /api/changes?since=SEQ every second */
	"async function poll(since){PL.polling=true;if(PL.last<since)"
	"PL.last=since;for(;;){try{const r=await fetch('/api/changes?since='"
	"+PL.last,{cache:'no-store'});const j=await r.json();live('polling');"
	"for(const c of j.changes)onChange(c);if(j.seq>PL.last)PL.last=j.seq;"
	"if(j.more)continue;}catch(e){live('offline');}"
	"await new Promise(ok=>setTimeout(ok,1000));}}\n"
	"function quar(q){return q===null?'-':q.kind+': '+q.reason+"
	"(q.run_id?' (run '+q.run_id+')':'');}\n"
	"function start(urls,render,relevant){PL.urls=urls;PL.render=render;"
	"PL.relevant=relevant;refresh();}\n";

static const char lab_js[] =
	"start(['/api/lab','/api/suites'],(app,lab,suites)=>{"
	"app.append(el('h2',null,'Boards',lab.lab?' of lab '+lab.lab:''));"
	"app.append(table('boards',['board','type','tags','power','lease',"
	"'quarantine','last run'],lab.boards.map(b=>el('tr',"
	"{'data-board':b.id},el('td',null,boardLink(b.id)),el('td',null,b.type),"
	"el('td',null,b.tags.join(', ')),el('td',null,b.power===null?"
	"'unknown':b.power),el('td',{cls:'text'},!b.lease?'free':"
	"b.lease.expired?'free (lease of '+b.lease.holder+' expired)':"
	"b.lease.holder+', until '+when(b.lease.expires_ns)),"
	"el('td',{cls:'text'},quar(b.quarantine)),"
	"el('td',null,b.last_run?badge(verdictOf(b.last_run)):'-',' ',"
	"b.last_run?link('/runs/'+b.last_run.id,'#'+b.last_run.id):'')))));"
	"app.append(el('h2',null,'Suites'));"
	"app.append(table('suites',['suite','name','started','finished',"
	"'gate'],suites.suites.map(s=>el('tr',{'data-suite':s.id},"
	"el('td',{cls:'num'},link('/suites/'+s.id,'#'+s.id)),"
	"el('td',null,link('/suites/'+s.id,s.name)),el('td',null,"
	"when(s.started_ns)),el('td',null,when(s.finished_ns)),"
	"el('td',null,s.gate?el('span',{cls:'res res-'+s.gate},s.gate):"
	"'running')))));"
	"},c=>true);\n";

static const char suite_js[] =
	"const ID=Number(location.pathname.split('/')[2]);"
	"start(['/api/suites/'+ID],(app,d)=>{const s=d.suite;"
	"document.title='patchlab: '+s.name;"
	/* the shared rendering of the HTML report, escaped by the server */
	"const v=el('div',{id:'suite-view'});v.innerHTML=s.html;app.append(v);"
	/* a suite queued in the lab service: where its jobs are */
	"if(s.jobs){const q=s.jobs;app.append(el('p',{id:'jobs'},"
	"'Lab service queue: ',q.queued,' queued, ',q.claimed,' running, ',"
	"q.done,' done, ',q.cancelled,' cancelled, ',q['timed-out'],"
	"' timed out (',link('/queue','the queue'),')'));}"
	"const c=s.counts;app.append(el('h2',null,'Runs (',s.runs.length,"
	"')'));app.append(el('p',{id:'counts'},...Object.keys(c).filter(k=>"
	"c[k]).map(k=>el('span',null,badge(k),' ',c[k],' '))));"
	"app.append(table('runs',RUN_HEADS,s.runs.slice().reverse()"
	".slice(0,1000).map(runRow)));"
	"},c=>c.suite_id===ID);\n";

static const char run_js[] =
	"const ID=Number(location.pathname.split('/')[2]);"
	"start(['/api/runs/'+ID],(app,d)=>{const r=d.run;"
	"document.title='patchlab: run '+r.id;"
	"app.append(el('h2',{id:'run-title'},'Run #'+r.id+' ',"
	"badge(verdictOf(r)),' ',r.board_id,' (',r.board_type,'), ',"
	"r.scenario));"
	"const dl=el('dl',{id:'run-fields'});const f=[['suite',r.suite_id?"
	"link('/suites/'+r.suite_id,'#'+r.suite_id):'-'],['board',"
	"boardLink(r.board_id)],['cut point',r.cut.text],['reason',r.reason"
	"||(r.state==='open'?'running':'(none)')],['started',when(r.started_ns)"
	"],['finished',when(r.finished_ns)],['duration',(r.duration_ns/1e9)"
	".toFixed(3)+' s'],['seed',r.seed],['image',r.image],['params',"
	"JSON.stringify(r.params)],['controller',r.controller],['replay',"
	"el('code',null,r.replay||'(none)')]];"
	"for(const [k,v] of f){dl.append(el('dt',null,k),el('dd',null,v));}"
	"app.append(dl);app.append(el('h2',null,'Timeline'));"
	"const t0=r.events.length?r.events[0].t_ns:0;"
	"app.append(table('timeline',['t (ms)','event','details'],"
	"r.events.map(e=>el('tr',null,el('td',{cls:'num'},((e.t_ns-t0)/1e6)"
	".toFixed(3)),el('td',null,e.kind),el('td',null,el('code',null,"
	"JSON.stringify(e.payload)))))));"
	"app.append(el('h2',null,'Console'));"
	"app.append(r.console===null?el('p',{cls:'note'},r.console_log?"
	"'console log '+r.console_log+' is unreadable':'no console log')"
	":el('pre',{cls:'console',id:'console'},r.console));"
	/* while the run holds its board: the console's new bytes, each second */
	"PL.tailOff=-1;"
	"if(r.state==='open'&&r.console!==null&&!PL.tail){PL.tail=true;"
	"tail();}"
	"},c=>c.run_id===ID);\n"
	/* a render in between resets the offset: that answer is dropped and
	 * the next one replaces the text */
	"async function tail(){for(;;){try{const o=PL.tailOff;"
	"const r=await fetch('/api/runs/'+ID+'/console?from='+(o<0?0:o),"
	"{cache:'no-store'});const d=(await r.json()).console;"
	"const pre=document.getElementById('console');"
	"if(PL.tailOff===o&&pre&&d.text!==null){if(o>=0&&d.from===o)"
	"pre.textContent+=d.text;else pre.textContent=d.text;"
	"pre.scrollTop=pre.scrollHeight;PL.tailOff=d.offset;}"
	"if(!d.open){PL.tail=false;refresh();return;}}catch(e){}"
	"await new Promise(ok=>setTimeout(ok,1000));}}\n";

static const char board_js[] =
	"const ID=decodeURIComponent(location.pathname.slice(8));"
	"start(['/api/boards/'+encodeURIComponent(ID)],(app,d)=>{"
	"const b=d.board;app.append(el('h2',null,'Board ',b.id));"
	"const dl=el('dl',{id:'board-fields'});for(const [k,v] of [['type',"
	"b.type],['in lab',b.in_lab?'yes':'no'],['power',b.power===null?"
	"'unknown':b.power],['quarantine',quar(b.quarantine)],"
	"['lease',!b.lease?'free':b.lease.holder+(b.lease"
	".expired?' (expired ':' (until ')+when(b.lease.expires_ns)+')']])"
	"dl.append(el('dt',null,k),el('dd',{id:'board-'+k.replace(' ','-')},"
	"v));app.append(dl);"
	"app.append(el('h2',null,'Runs (',b.nruns,', newest first)'));"
	"app.append(table('runs',RUN_HEADS,b.runs.map(runRow)));"
	"},c=>c.board_id===ID);\n";

/* The lab service's jobs (PostgreSQL): queued in claim order, claimed
 * with their worker and lease, the latest that ended; then the open runs.
 * On SQLite the note that there is no queue. */
static const char queue_js[] =
	"function ago(now,ns){if(!ns)return '';const s=Math.max(0,"
	"Math.round((now-ns)/1e9));return s<120?s+' s':s<7200?"
	"Math.round(s/60)+' min':Math.round(s/3600)+' h';}\n"
	"function jobRow(j,...tds){return el('tr',{id:'job-'+j.id,"
	"'data-job':j.id,'data-state':j.state},el('td',{cls:'num'},'#'+j.id),"
	"el('td',null,link('/suites/'+j.suite_id,'#'+j.suite_id+' '+"
	"(j.suite_name||''))),el('td',null,boardLink(j.board_id)),"
	"el('td',null,j.scenario),...tds);}\n"
	"const JOB_HEADS=['job','suite','board','scenario'];\n"
	"start(['/api/queue'],(app,d)=>{const now=d.now_ns;"
	"if(!d.queue){app.append(el('h2',null,'Queue'));"
	"app.append(el('p',{cls:'note',id:'no-queue'},d.note));}else{"
	"const q=d.jobs.filter(j=>j.state==='queued'),c=d.jobs.filter(j=>"
	"j.state==='claimed'),e=d.jobs.filter(j=>j.state!=='queued'&&"
	"j.state!=='claimed');"
	"app.append(el('h2',null,'Queued (',d.queued,d.queued>q.length?"
	"', the next '+q.length+' shown':'',')'));"
	"app.append(el('p',{cls:'note'},'In the order claims take them: "
	"priority, then round-robin between submitters, then age. Each board "
	"takes the jobs pinned to it.'));"
	"app.append(table('queued',['#',...JOB_HEADS,'type','priority',"
	"'submitter','attempts','waiting'],q.map(j=>{const r=jobRow(j,"
	"el('td',null,j.board_type),el('td',{cls:'num'},j.priority),"
	"el('td',null,j.submitter),el('td',{cls:'num'},j.attempt),"
	"el('td',null,ago(now,j.queued_ns),' (since ',when(j.queued_ns),')'));"
	"r.prepend(el('td',{cls:'num'},j.position));return r;})));"
	"app.append(el('h2',null,'Claimed (',c.length,')'));"
	"app.append(table('claimed',[...JOB_HEADS,'priority','submitter',"
	"'worker','attempt','claimed','lease until'],c.map(j=>jobRow(j,"
	"el('td',{cls:'num'},j.priority),el('td',null,j.submitter),"
	"el('td',null,j.worker),el('td',{cls:'num'},j.attempt),"
	"el('td',null,when(j.claimed_ns),' (',ago(now,j.claimed_ns),' ago)'),"
	"el('td',{cls:j.expired?'err':null},when(j.expires_ns),"
	"j.expired?' (expired)':'')))));"
	"app.append(el('h2',null,'Ended lately (',e.length,', at most ',"
	"d.ended_max,')'));"
	"app.append(table('ended',[...JOB_HEADS,'state','run','reason',"
	"'ended'],e.map(j=>jobRow(j,el('td',null,j.state),el('td',null,"
	"j.run_id?link('/runs/'+j.run_id,'#'+j.run_id):'-'),"
	"el('td',{cls:'text'},j.reason),el('td',null,when(j.ended_ns))))));}"
	"app.append(el('h2',null,'Open runs (',d.open_runs.length,')'));"
	"app.append(el('p',{cls:'note'},'Runs that began and have not "
	"ended.'));"
	"app.append(table('runs',RUN_HEADS,d.open_runs.map(runRow)));"
	"},c=>c.kind==='run'||c.kind==='job');\n";

int pl_serve_page(const char *page, const char *nonce, struct pl_strbuf *out)
{
	static const struct {
		const char *name, *js;
	} pages[] = {
		{ "lab", lab_js }, { "suite", suite_js }, { "run", run_js },
		{ "board", board_js }, { "queue", queue_js },
	};
	const char *js = NULL;
	int rc;

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		if (strcmp(pages[i].name, page) == 0)
			js = pages[i].js;
	if (!js)
		return -ENOENT;
	rc = pl_strbuf_printf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
			      "<meta charset=\"utf-8\"><title>patchlab</title>"
			      "\n<style>%s%s</style></head>\n<body data-page="
			      "\"%s\" data-live=\"connecting\">\n<nav><a "
			      "href=\"/\">patchlab</a><a href=\"/\">lab</a>"
			      "<a href=\"/queue\">queue</a><span class=\"live\""
			      " id=\"live\">connecting</span></nav>\n"
			      "<div id=\"app\"><p class=\"note\">loading"
			      "&#8230;</p></div>\n<script nonce=\"%s\">\n%s%s"
			      "</script></body></html>\n",
			      pl_report_html_css(), extra_css, page, nonce,
			      common_js, js);
	return rc;
}
