//! `timeline.html`: every operation as a bar on its process's row, fault periods shaded,
//! drawn on a canvas so that 100,000 operations stay quick. The data is embedded as
//! compact JSON; wheel zooms, drag pans, hovering names the operation.
//!
//! When drawn, the page sets `<html data-rendered="ok" data-render-ms="...">` (what the
//! headless-browser test reads).

use crate::palette::{fault_color, fault_family, op_color};
use crate::run_data::{outcome_name, RunData};
use crate::svg::escape;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Longest value text kept per operation (for the hover line).
const VALUE_CHARS: usize = 24;

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > VALUE_CHARS {
        let cut: String = s.chars().take(VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// The timeline page of a run.
pub fn timeline_html(run: &RunData) -> String {
    let mut rows: BTreeMap<u64, usize> = BTreeMap::new();
    for s in &run.spans {
        let n = rows.len();
        rows.entry(s.process).or_insert(n);
    }
    // Rows in process order.
    let procs: Vec<u64> = rows.keys().copied().collect();
    let row_of: BTreeMap<u64, usize> = procs.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let mut styles: Vec<(String, String)> = Vec::new();
    let mut ops = Vec::with_capacity(run.spans.len());
    for s in &run.spans {
        let outcome = outcome_name(s.outcome);
        let style = (s.f.clone(), outcome.to_string());
        let si = match styles.iter().position(|x| *x == style) {
            Some(i) => i,
            None => {
                styles.push(style);
                styles.len() - 1
            }
        };
        let ms = |t: u64| (t as f64 / 1e3).round() / 1e3;
        ops.push(json!([
            row_of[&s.process],
            ms(s.start),
            s.end.map_or(-1.0, ms),
            si,
            s.index,
            format!(
                "{} {}{}",
                short(&s.value),
                if s.end.is_some() { "→ " } else { "" },
                if s.end.is_some() {
                    short(&s.output)
                } else {
                    String::new()
                }
            )
        ]));
    }
    let styles: Vec<Value> = styles
        .iter()
        .map(|(f, o)| json!({"f": f, "outcome": o, "color": op_color(f, o)}))
        .collect();
    let faults: Vec<Value> = run
        .faults
        .iter()
        .map(|w| {
            let family = fault_family(&w.fault);
            json!([
                w.start as f64 / 1e6,
                w.stop.unwrap_or(run.end) as f64 / 1e6,
                fault_color(family),
                format!("{} {}", w.fault, w.what),
                family
            ])
        })
        .collect();
    let data = json!({
        "procs": procs,
        "ops": ops,
        "styles": styles,
        "faults": faults,
        "end": run.end as f64 / 1e6,
    });
    let data = data.to_string().replace("</", "<\\/");
    let name = if run.test.name.is_empty() {
        "run"
    } else {
        &run.test.name
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} timeline</title>\
<style>body{{font-family:sans-serif;margin:12px}}#wrap{{position:relative}}canvas{{border:1px solid #ccc;cursor:grab}}\
#tip{{font-size:13px;height:18px;color:#333}}#legend span{{margin-right:12px;font-size:13px}}</style></head><body>\
<h2>{} — {} operations on {} processes <a href=\"report.html\" style=\"font-size:14px\">report</a></h2>\
<div id=\"legend\"></div><div id=\"tip\">wheel: zoom · drag: pan · double-click: reset</div>\
<div id=\"wrap\"><canvas id=\"c\"></canvas></div>\
<script type=\"application/json\" id=\"data\">{data}</script>\n<script>\n{SCRIPT}\n</script></body></html>\n",
        escape(name),
        escape(name),
        run.spans.len(),
        procs.len()
    )
}

/// The page's drawing code.
const SCRIPT: &str = r#"(function(){
var t0=performance.now();var root=document.documentElement;
window.addEventListener('error',function(e){root.dataset.errors=(root.dataset.errors||'')+e.message+';';});
var D=JSON.parse(document.getElementById('data').textContent);
var cv=document.getElementById('c'),ctx=cv.getContext('2d'),tip=document.getElementById('tip');
var LEFT=70,TOP=20,rows=D.procs.length||1;
var W=Math.max(800,window.innerWidth-40),rowH=Math.max(3,Math.min(18,Math.floor(700/rows)));
var H=TOP+rows*rowH+30;cv.width=W;cv.height=H;
var x0=0,x1=Math.max(D.end,1);
var byRow=[];for(var i=0;i<rows;i++)byRow.push([]);
D.ops.forEach(function(o,i){byRow[o[0]].push(i);});
var leg=document.getElementById('legend');
var seen={};D.styles.forEach(function(s){var e=document.createElement('span');e.innerHTML='<b style="color:'+s.color+'">■</b> '+s.f+' '+s.outcome;leg.appendChild(e);});
D.faults.forEach(function(f){var k=f[4];if(seen[k])return;seen[k]=1;var e=document.createElement('span');e.innerHTML='<b style="color:'+f[2]+';opacity:.5">▮</b> '+k;leg.appendChild(e);});
function X(t){return LEFT+(t-x0)/(x1-x0)*(W-LEFT-10);}
function T(px){return x0+(px-LEFT)/(W-LEFT-10)*(x1-x0);}
function draw(){
 ctx.clearRect(0,0,W,H);ctx.fillStyle='#fff';ctx.fillRect(0,0,W,H);
 D.faults.forEach(function(f){var a=X(f[0]),b=X(f[1]);if(b<LEFT||a>W)return;ctx.globalAlpha=0.18;ctx.fillStyle=f[2];ctx.fillRect(Math.max(a,LEFT),TOP,Math.min(b,W)-Math.max(a,LEFT),rows*rowH);});
 ctx.globalAlpha=1;ctx.font='10px sans-serif';ctx.fillStyle='#333';
 var step=Math.pow(10,Math.floor(Math.log10((x1-x0)/6)));if((x1-x0)/step>12)step*=2;if((x1-x0)/step>12)step*=2.5;
 for(var t=Math.ceil(x0/step)*step;t<=x1;t+=step){var px=X(t);ctx.fillStyle='#eee';ctx.fillRect(px,TOP,1,rows*rowH);ctx.fillStyle='#333';ctx.fillText((t/1000).toFixed(step<1000?2:0)+' s',px-10,TOP+rows*rowH+14);}
 for(var r=0;r<rows;r++){
  if(rowH>=9||r%Math.ceil(9/rowH)===0){ctx.fillStyle='#333';ctx.fillText('p'+D.procs[r],4,TOP+r*rowH+rowH-1);}
  var list=byRow[r];
  for(var j=0;j<list.length;j++){var o=D.ops[list[j]];var e=o[2]<0?D.end:o[2];if(e<x0||o[1]>x1)continue;
   var a=X(o[1]),b=X(e);ctx.fillStyle=D.styles[o[3]].color;ctx.fillRect(a,TOP+r*rowH+1,Math.max(1,b-a),rowH-2);}
 }
}
draw();
var drag=null;
cv.addEventListener('wheel',function(e){e.preventDefault();var t=T(e.offsetX),k=e.deltaY<0?0.8:1.25;x0=t-(t-x0)*k;x1=t+(x1-t)*k;draw();},{passive:false});
cv.addEventListener('mousedown',function(e){drag=e.offsetX;});
window.addEventListener('mouseup',function(){drag=null;});
cv.addEventListener('dblclick',function(){x0=0;x1=Math.max(D.end,1);draw();});
cv.addEventListener('mousemove',function(e){
 if(drag!==null){var d=T(drag)-T(e.offsetX);x0+=d;x1+=d;drag=e.offsetX;draw();return;}
 var r=Math.floor((e.offsetY-TOP)/rowH),t=T(e.offsetX);if(r<0||r>=rows)return;
 var list=byRow[r],best=null;
 for(var j=0;j<list.length;j++){var o=D.ops[list[j]];var end=o[2]<0?D.end:o[2];if(o[1]<=t&&t<=end){best=o;break;}}
 var f=D.faults.filter(function(w){return w[0]<=t&&t<=w[1];}).map(function(w){return w[3];}).join(', ');
 tip.textContent=(best?('#'+best[4]+' p'+D.procs[r]+' '+D.styles[best[3]].f+' '+best[5]+' '+D.styles[best[3]].outcome+' '+best[1].toFixed(1)+'–'+(best[2]<0?'never':best[2].toFixed(1))+' ms'):(t/1000).toFixed(3)+' s')+(f?' | fault: '+f:'');
});
root.dataset.renderMs=(performance.now()-t0).toFixed(0);
root.dataset.ops=D.ops.length;
root.dataset.rendered='ok';
})();"#;
