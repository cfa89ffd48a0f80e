'use strict';

// Splits one CSV line, honouring double quotes ("a,b" and "" inside quotes).
function splitLine(line) {
  const cells = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { cells.push(cell); cell = ''; }
    else cell += c;
  }
  cells.push(cell);
  return cells;
}

exports.main = async (req) => {
  const text = typeof req.body === 'string' ? req.body : String(req.body || '');
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 1) return { statusCode: 400, body: JSON.stringify({ error: 'empty CSV: send a header row and data' }) };
  const header = splitLine(lines[0]).map((h) => h.trim());
  const by = req.query.by || header[0];
  const key = header.indexOf(by);
  if (key < 0) return { statusCode: 400, body: JSON.stringify({ error: `no column "${by}" (columns: ${header.join(', ')})` }) };

  const rows = lines.slice(1).map(splitLine);
  // A column is numeric when every non-empty cell parses as a number.
  const numeric = header.map((_, c) => c !== key && rows.every((r) => (r[c] || '').trim() === '' || !isNaN(Number(r[c]))));
  const groups = {};
  for (const r of rows) {
    const g = (groups[r[key]] = groups[r[key]] || { count: 0, sum: {} });
    g.count++;
    header.forEach((h, c) => { if (numeric[c]) g.sum[h] = (g.sum[h] || 0) + Number(r[c] || 0); });
  }
  const out = {};
  for (const [name, g] of Object.entries(groups).sort()) {
    const mean = {};
    for (const [h, s] of Object.entries(g.sum)) mean[h] = Math.round((s / g.count) * 1000) / 1000;
    out[name] = { count: g.count, sum: g.sum, mean };
  }
  return { by, rows: rows.length, groups: out };
};
