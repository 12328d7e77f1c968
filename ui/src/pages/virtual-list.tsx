/**
 * A window-scrolled virtual list: only the rows near the viewport are in the DOM, each measured
 * as it renders, the rest stood in for by the list's top and bottom padding (set through the
 * CSSOM, which the CSP allows). Loaded on demand with the memories page, so the first load of
 * the app does not carry @tanstack/virtual-core.
 */
import {
  measureElement,
  observeWindowOffset,
  observeWindowRect,
  Virtualizer,
  type VirtualizerOptions,
  windowScroll,
} from '@tanstack/virtual-core';
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useReducer, useRef, useState } from 'preact/hooks';

/** The space between rows, in CSS pixels; `.virtual-list` uses the same as its `gap`. */
const GAP = 8;

export interface VirtualListProps<T> {
  items: readonly T[];
  /** A stable key per item, so measured heights follow the item rather than the index. */
  itemKey(item: T): string;
  renderItem(item: T): ComponentChildren;
  /** A first guess at a row's height; rows are measured once drawn. */
  estimateHeight: number;
  class?: string;
  label: string;
  /** Called when the last rows come into view, to fetch the next page. */
  onNearEnd?(): void;
}

export function VirtualList<T>(props: VirtualListProps<T>) {
  const listRef = useRef<HTMLUListElement>(null);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const options = (): VirtualizerOptions<Window, HTMLLIElement> => ({
    count: props.items.length,
    getScrollElement: () => window,
    estimateSize: () => props.estimateHeight,
    getItemKey: (index) => props.itemKey(props.items[index] as T),
    observeElementRect: observeWindowRect,
    observeElementOffset: observeWindowOffset,
    scrollToFn: windowScroll,
    measureElement,
    initialOffset: () => window.scrollY,
    scrollMargin: listRef.current ? listRef.current.getBoundingClientRect().top + window.scrollY : 0,
    gap: GAP,
    overscan: 6,
    onChange: () => redraw(undefined),
  });
  const [virtualizer] = useState(() => new Virtualizer(options()));
  virtualizer.setOptions(options());
  useLayoutEffect(() => virtualizer._didMount(), []);
  useLayoutEffect(() => virtualizer._willUpdate());

  const rows = virtualizer.getVirtualItems();
  const last = rows.at(-1);
  useLayoutEffect(() => {
    if (last && last.index >= props.items.length - 1) props.onNearEnd?.();
  }, [last?.index, props.items.length]);

  const margin = virtualizer.options.scrollMargin;
  const top = rows[0] ? rows[0].start - margin : 0;
  const bottom = last ? virtualizer.getTotalSize() - (last.end - margin) : 0;
  return (
    <ul
      ref={listRef}
      class={`virtual-list ${props.class ?? ''}`}
      aria-label={props.label}
      style={{ paddingTop: `${top}px`, paddingBottom: `${Math.max(0, bottom)}px` }}
    >
      {rows.map((row) => {
        const item = props.items[row.index] as T;
        return (
          <li
            key={row.key}
            data-index={row.index}
            ref={(node) => virtualizer.measureElement(node)}
            aria-posinset={row.index + 1}
            aria-setsize={props.items.length}
            class="card"
          >
            {props.renderItem(item)}
          </li>
        );
      })}
    </ul>
  );
}
