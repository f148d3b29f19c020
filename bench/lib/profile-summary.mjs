// Summarises a .cpuprofile: self time by function and by package, top N.
import { readFileSync } from 'node:fs';
const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const top = Number(process.argv[3] ?? 40);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
let total = 0;
profile.samples.forEach((id, i) => {
  const d = dt[i] ?? 0;
  self.set(id, (self.get(id) ?? 0) + d);
  total += d;
});
const fn = new Map();
const pkg = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const key = `${cf.functionName || '(anon)'} ${cf.url.replace(/^.*node_modules\//, 'nm:').replace(/^file:\/\/\/work\/main\//, '')}:${cf.lineNumber}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  const p = cf.url.includes('node_modules/')
    ? cf.url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1')
    : cf.url.startsWith('file:///work/main/')
      ? cf.url.replace(/^file:\/\/\/work\/main\/([^/]+\/[^/]+).*$/, '$1')
      : cf.url
        ? 'node:' + cf.url.slice(0, 30)
        : cf.functionName || '(native)';
  pkg.set(p, (pkg.get(p) ?? 0) + t);
}
const show = (m) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .forEach(([k, t]) => console.log((t / 1000).toFixed(0).padStart(7), 'ms', ((100 * t) / total).toFixed(1).padStart(5), '%', k));
console.log('total sampled ms', (total / 1000).toFixed(0));
console.log('--- by package');
show(pkg);
console.log('--- by function');
show(fn);
// Inclusive time of project frames (src/, providers/): each sample counts once per distinct frame on its stack.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
for (const [id, t] of self) {
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const cf = byId.get(cur).callFrame;
    if (!/\/work\/main\/(src|providers)\//.test(cf.url)) continue;
    const key = `${cf.functionName || '(anon)'} ${cf.url.replace(/^file:\/\/\/work\/main\//, '')}:${cf.lineNumber}`;
    if (seen.has(key)) continue;
    seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + t);
  }
}
console.log('--- inclusive, project frames');
show(incl);
