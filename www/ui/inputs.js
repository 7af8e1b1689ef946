// Where photos come from: drag and drop (files or a whole selection), the file picker, paste, and the camera.
// Every source ends in onFiles([File]); the files are read and decoded by the engine, so a file that is not an
// image reaches it too and gets its precise message (what the decoder found) instead of being dropped silently.

import { dropZone } from '../lib/drop-zone.js';
import { WebclipError } from '../lib/errors.js';
import { $ } from './dom.js';
import { showNotice } from './notice.js';

export function setUpInputs(onFiles) {
  const drop = $('drop');
  const picker = $('files');

  picker.addEventListener('change', () => {
    if (picker.files.length) onFiles([...picker.files]);
    picker.value = ''; // choosing the same file again still fires change
  });
  drop.addEventListener('click', (ev) => {
    if (ev.target === drop || ev.target.id === 'drop-text') picker.click();
  });
  // the zone itself is not a control (it holds two buttons): keyboard and screen-reader users take the button
  $('choose-files').addEventListener('click', () => picker.click());
  dropZone(drop, (dataTransfer) => {
    const files = [...(dataTransfer?.files ?? [])];
    if (files.length) onFiles(files);
    else showNotice($('input-notices'), new WebclipError('unsupported-image', 'what was dropped holds no file ' +
      '(an image dragged from another page arrives as a link: save it first, then drop the file)'));
  });
  // a page-wide drop outside the zone would navigate away to the file: catch it
  window.addEventListener('dragover', (ev) => ev.preventDefault());
  window.addEventListener('drop', (ev) => ev.preventDefault());

  document.addEventListener('paste', (ev) => {
    const files = [...(ev.clipboardData?.files ?? [])];
    if (!files.length) return; // pasted text goes where the cursor is
    ev.preventDefault();
    onFiles(files.map((f, i) => (f.name && f.name !== 'image.png' ? f
      : new File([f], `pasted-${new Date().toISOString().slice(11, 19).replaceAll(':', '')}-${i + 1}.${ext(f.type)}`,
        { type: f.type }))));
  });

  setUpCamera(onFiles);
}

const ext = (type) => ({ 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif' })[type] ?? 'png';

function setUpCamera(onFiles) {
  const open = $('camera-open');
  const box = $('camera');
  const video = $('camera-video');
  let stream = null;
  if (!navigator.mediaDevices?.getUserMedia) {
    open.disabled = true;
    open.title = window.isSecureContext ? 'this browser offers no camera API'
      : 'browsers offer the camera only on https:// pages and on localhost';
    return;
  }
  const close = () => {
    stream?.getTracks().forEach((t) => t.stop());
    stream = null;
    box.hidden = true;
    open.hidden = false;
  };
  open.addEventListener('click', async () => {
    showNotice($('input-notices'), null);
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    } catch (e) {
      const why = e.name === 'NotAllowedError' ? 'camera access was refused'
        : e.name === 'NotFoundError' ? 'no camera was found' : `${e.name}: ${e.message}`;
      showNotice($('input-notices'), new WebclipError('camera', why));
      return;
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    box.hidden = false;
    open.hidden = true;
  });
  $('camera-close').addEventListener('click', close);
  $('camera-snap').addEventListener('click', async () => {
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext('2d').drawImage(video, 0, 0);
    // PNG: lossless, so the engine sees exactly the captured frame
    const blob = await new Promise((ok) => canvas.toBlob(ok, 'image/png'));
    if (!blob) return showNotice($('input-notices'), new WebclipError('camera', 'the camera gave no picture yet'));
    const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
    onFiles([new File([blob], `camera-${stamp}.png`, { type: 'image/png' })]);
  });
}
