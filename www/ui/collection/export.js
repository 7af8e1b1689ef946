// The collection as files, in the formats of `webclip tag` (src/bin/webclip/tag.rs), so a page export and a CLI
// run are interchangeable (the CLI even resumes from the page's files):
// - JSON Lines: per image {"file", "tags": [{"tag", "score"}] (≥ threshold, best first), "scores": {label: score},
//   "caption", "caption_score"} (caption fields null when there is no caption);
// - CSV: file,tags,caption,caption_score,<one column per label>; tags joined by "; ", scores with 4 decimals,
//   fields quoted as RFC 4180 (only when they hold a comma, quote or line break).

/** Labels scoring ≥ threshold, best first, equal scores in label order (as Tagger::tags; threshold as an f32). */
export function tagsAbove(labels, scores, threshold) {
  const t = Math.fround(threshold);
  return labels.map((tag, i) => ({ tag, score: scores[i] })).filter((x) => x.score >= t)
    .sort((a, b) => b.score - a.score);
}

/** items: [{file, scores, caption, captionScore}] (scores in `labels` order). */
export function toJsonLines(items, labels, threshold) {
  return items.map((it) => JSON.stringify({
    file: it.file,
    tags: tagsAbove(labels, it.scores, threshold),
    scores: Object.fromEntries(labels.map((l, i) => [l, it.scores[i]])),
    caption: it.caption ?? null,
    caption_score: it.captionScore ?? null,
  }) + '\n').join('');
}

export function toCsv(items, labels, threshold) {
  const rows = [['file', 'tags', 'caption', 'caption_score', ...labels]];
  for (const it of items) {
    rows.push([it.file, tagsAbove(labels, it.scores, threshold).map((t) => t.tag).join('; '), it.caption ?? '',
      it.captionScore == null ? '' : it.captionScore.toFixed(4), ...it.scores.map((s) => s.toFixed(4))]);
  }
  return rows.map(csvRecord).join('');
}

export function csvRecord(fields) {
  return fields.map((f) => (/[,"\n\r]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f)).join(',') + '\n';
}

/** Points `a` (a download link) at `text` as a file; the previous object URL is released. */
export function linkTo(a, text, type) {
  if (a.href.startsWith('blob:')) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([text], { type }));
}
