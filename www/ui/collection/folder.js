// A picked or dropped folder as a sorted list of {path, file}: the same images `webclip tag DIR` would find —
// png, jpg, jpeg, webp, gif, bmp, tif and tiff, recursively, hidden entries skipped — with `path` relative to the
// folder ('/' separators), so results and exports name files exactly as the CLI does.

const IMAGE = /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i;

/** Keeps what `webclip tag` keeps, sorted by path (JS string order = byte order for ASCII names). */
export function imagesOnly(entries) {
  return entries
    .filter(({ path }) => IMAGE.test(path) && !path.split('/').some((part) => part.startsWith('.')))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** From `<input type=file webkitdirectory>`: webkitRelativePath is "FOLDER/sub/x.jpg"; the folder name goes. */
export function fromInput(fileList) {
  const files = [...fileList];
  const relative = (f) => {
    const p = f.webkitRelativePath || f.name;
    return p.includes('/') ? p.slice(p.indexOf('/') + 1) : p;
  };
  const images = imagesOnly(files.map((file) => ({ path: relative(file), file })));
  return { folder: folderName(files[0]?.webkitRelativePath), images };
}

const folderName = (p) => (p && p.includes('/') ? p.slice(0, p.indexOf('/')) : '');

/** From a drop: DataTransferItems → their FileSystemEntry (webkitGetAsEntry), read now (the list dies after the
 *  event). One dropped folder: paths are relative to it; several things: to where they were dropped from. */
export function entriesOf(dataTransfer) {
  return [...(dataTransfer?.items ?? [])].filter((i) => i.kind === 'file')
    .map((i) => i.webkitGetAsEntry?.() ?? null).filter(Boolean);
}

export async function fromEntries(entries) {
  const single = entries.length === 1 && entries[0].isDirectory;
  const found = [];
  for (const entry of entries) await walk(entry, single ? '' : entry.name, found);
  return { folder: single ? entries[0].name : '', images: imagesOnly(found) };
}

async function walk(entry, path, found) {
  if (entry.name.startsWith('.')) return;
  if (entry.isFile) {
    found.push({ path: path || entry.name, file: await new Promise((ok, fail) => entry.file(ok, fail)) });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = entry.createReader();
  for (;;) { // readEntries answers in batches (100 in Chromium) until an empty one
    const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
    if (!batch.length) break;
    for (const child of batch) await walk(child, path ? `${path}/${child.name}` : child.name, found);
  }
}
