// Types of webclip-labeler.js: the <webclip-labeler> custom element. Importing the module defines the element.
import type { ImageInput, LabelScore, ModelInfo, WebclipModel } from './webclip.js';

export interface WebclipReadyDetail {
  model: ModelInfo;
}

export type WebclipResultDetail =
  | { mode: 'labels'; image: string; labels: LabelScore[] }
  | { mode: 'caption'; image: string | null; caption: string; score: number };

export interface WebclipErrorDetail {
  code: string;
  title: string;
  message: string;
  hint: string;
}

/**
 * Attributes: model, labels, template ("ensemble" for the 80-prompt ensemble), top-k (default 5),
 * mode ("labels" | "caption"), backend ("auto" | "gpu" | "cpu"), load ("click" (default): nothing is downloaded
 * until the reader presses the load button or gives an image | "visible" | "eager"), size (shown on the button).
 * Events (bubbling, composed): webclip-ready, webclip-result, webclip-error.
 * Theme: --webclip-accent, --webclip-bg, --webclip-fg, --webclip-muted, --webclip-border, --webclip-radius,
 * --webclip-font, --webclip-error; parts: box, drop, preview, start, status, results, caption.
 */
export class WebclipLabeler extends HTMLElement {
  static readonly observedAttributes: string[];
  readonly mode: 'labels' | 'caption';
  readonly topK: number;
  /** The shared model's handle, null until webclip-ready. */
  readonly webclipModel: WebclipModel | null;
  /** Labels (or captions) an image, as if the reader had dropped it. */
  label(image: ImageInput): Promise<void>;
}

declare global {
  interface HTMLElementTagNameMap {
    'webclip-labeler': WebclipLabeler;
  }
  interface HTMLElementEventMap {
    'webclip-ready': CustomEvent<WebclipReadyDetail>;
    'webclip-result': CustomEvent<WebclipResultDetail>;
    'webclip-error': CustomEvent<WebclipErrorDetail>;
  }
}
