import type { LiveEvent } from "../types";

export interface View {
  /** `arg`: the part of the address after the view's name (#/inbox/12 → "12"). */
  mount(el: HTMLElement, arg?: string): void;
  unmount(): void;
  onEvent?(event: LiveEvent): void;
}
