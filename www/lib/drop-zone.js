// A drop target: the element accepts drags (class "over" while one hovers it) and hands the DataTransfer of a
// drop to `onDrop`, during the event (a DataTransferItemList is emptied after it). Used by the page, the collection
// view and <webclip-labeler>, which differ only in what they take from the drop.

/** Makes `el` a drop target calling `onDrop(dataTransfer)`. */
export function dropZone(el, onDrop) {
  for (const type of ['dragenter', 'dragover']) {
    el.addEventListener(type, (ev) => {
      ev.preventDefault(); // without it the browser opens the dropped file instead
      el.classList.add('over');
    });
  }
  el.addEventListener('dragleave', () => el.classList.remove('over'));
  el.addEventListener('drop', (ev) => {
    ev.preventDefault();
    el.classList.remove('over');
    onDrop(ev.dataTransfer);
  });
}
