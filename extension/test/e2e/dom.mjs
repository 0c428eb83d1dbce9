// Page-side helpers, installed in the workbench page as window.e2e before
// VS Code loads (page.addInitScript). They read what the DOM shows, by the
// selectors that proved things (shared/E2E-NOTES.md): a line is found by its
// line-number row's style.top, never by counting rows, because CodeLens
// zones shift the rows below them.

export function installHelpers() {
  const px = (s) => (s ? parseFloat(s) : NaN);
  const text = (el) => (el.textContent || '').replace(/\u00a0/g, ' ');
  const e2e = {
    /** editor returns the visible text editor of a file (by its URI's ending). */
    editor(file) {
      return [...document.querySelectorAll(`.part.editor .monaco-editor[data-uri$="/${file}"]`)].find(
        (e) => e.offsetParent !== null && !e.closest('.zone-widget'),
      );
    },
    /** rowTop is the style.top of a line's line-number row, or undefined when it is not rendered. */
    rowTop(file, line) {
      const ed = e2e.editor(file);
      if (!ed) {
        return undefined;
      }
      const num = [...ed.querySelectorAll('.margin-view-overlays .line-numbers')].find(
        (n) => n.textContent.trim() === String(line),
      );
      return num ? px(num.parentElement.style.top) : undefined;
    },
    /**
     * lineRect is the viewport rectangle of a line's text row when the row is
     * fully inside the editor's scrolled viewport, else undefined.
     */
    lineRect(file, line) {
      const ed = e2e.editor(file);
      const top = e2e.rowTop(file, line);
      if (!ed || top === undefined) {
        return undefined;
      }
      const view = [...ed.querySelectorAll('.view-lines .view-line')].find((l) => px(l.style.top) === top);
      const port = ed.querySelector('.editor-scrollable') || ed;
      if (!view) {
        return undefined;
      }
      const r = view.getBoundingClientRect();
      const p = port.getBoundingClientRect();
      if (r.top < p.top || r.bottom > p.bottom || r.height === 0) {
        return undefined;
      }
      return { x: Math.max(r.left, p.left), y: r.top, width: p.right - Math.max(r.left, p.left), height: r.height };
    },
    /** linePlace is where a rendered line's row is against the editor's viewport, or undefined. */
    linePlace(file, line) {
      const ed = e2e.editor(file);
      const top = e2e.rowTop(file, line);
      if (!ed || top === undefined) {
        return undefined;
      }
      const view = [...ed.querySelectorAll('.view-lines .view-line')].find((l) => px(l.style.top) === top);
      if (!view) {
        return undefined;
      }
      const r = view.getBoundingClientRect();
      const p = (ed.querySelector('.editor-scrollable') || ed).getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, portTop: p.top, portBottom: p.bottom, x: p.left + p.width / 2 };
    },
    /** firstShownLine is the first line whose row is fully in view. */
    firstShownLine(file) {
      const ed = e2e.editor(file);
      if (!ed) {
        return undefined;
      }
      const lines = [...ed.querySelectorAll('.margin-view-overlays .line-numbers')]
        .map((n) => Number(n.textContent.trim()))
        .filter((n) => n > 0)
        .sort((a, b) => a - b);
      return lines.find((l) => e2e.lineRect(file, l));
    },

    /** heatIcons lists the gutter heat icons: their top and icon file. */
    heatIcons(file) {
      const ed = e2e.editor(file);
      if (!ed) {
        return [];
      }
      return [...ed.querySelectorAll('.glyph-margin-widgets div.cgmr')]
        .map((el) => ({ el, bg: getComputedStyle(el).backgroundImage }))
        .filter(({ bg }) => /heat-[a-z]+-\d-(light|dark)\.svg/.test(decodeURIComponent(bg)))
        .map(({ el, bg }) => ({
          top: px(el.style.top),
          icon: decodeURIComponent(bg).match(/heat-[a-z]+-\d-(light|dark)\.svg/)[0],
          className: el.className,
        }));
    },
    /** heatAt returns the heat icon's file name on a line, or undefined. */
    heatAt(file, line) {
      const top = e2e.rowTop(file, line);
      const icon = top === undefined ? undefined : e2e.heatIcons(file).find((i) => i.top === top);
      return icon ? icon.icon : undefined;
    },
    /** afterTexts lists the after-line texts (CSS ::after content) of a line. */
    afterTexts(file, line) {
      const ed = e2e.editor(file);
      const top = e2e.rowTop(file, line);
      if (!ed || top === undefined) {
        return [];
      }
      const view = [...ed.querySelectorAll('.view-lines .view-line')].find((l) => px(l.style.top) === top);
      if (!view) {
        return [];
      }
      return [...view.querySelectorAll('span')]
        .map((s) => getComputedStyle(s, '::after').content)
        .filter((c) => c && c !== 'none' && c !== 'normal' && c !== '""')
        .map((c) => c.replace(/^"|"$/g, ''));
    },
    /** allAfterTexts lists every after-line text in the editor. */
    allAfterTexts(file) {
      const ed = e2e.editor(file);
      if (!ed) {
        return [];
      }
      return [...ed.querySelectorAll('.view-lines .view-line span')]
        .map((s) => getComputedStyle(s, '::after').content)
        .filter((c) => c && c !== 'none' && c !== 'normal' && c !== '""');
    },
    /** lensesAbove lists the CodeLens texts in the zone right above a line. */
    lensesAbove(file, line) {
      const ed = e2e.editor(file);
      const top = e2e.rowTop(file, line);
      const prev = e2e.rowTop(file, line - 1);
      if (!ed || top === undefined || prev === undefined) {
        return [];
      }
      return [...ed.querySelectorAll('.codelens-decoration')]
        .filter((l) => px(l.style.top) > prev && px(l.style.top) < top)
        .map((l) => text(l));
    },
    allLenses(file) {
      const ed = e2e.editor(file);
      return ed ? [...ed.querySelectorAll('.codelens-decoration')].map((l) => text(l)) : [];
    },
    /** conditionalBreakpoints lists the tops of conditional breakpoint glyphs. */
    conditionalBreakpoints(file) {
      const ed = e2e.editor(file);
      return ed
        ? [...ed.querySelectorAll('.glyph-margin-widgets .codicon-debug-breakpoint-conditional')].map((g) =>
            px(g.style.top),
          )
        : [];
    },
    /** breakpointGlyphs lists the classes of every breakpoint glyph in the gutter. */
    breakpointGlyphs(file) {
      const ed = e2e.editor(file);
      return ed
        ? [...ed.querySelectorAll('.glyph-margin-widgets [class*="codicon-debug-breakpoint"]')].map((g) => g.className)
        : [];
    },
    /** lineOfTop maps a row top back to its line number. */
    lineOfTop(file, top) {
      const ed = e2e.editor(file);
      const num =
        ed &&
        [...ed.querySelectorAll('.margin-view-overlays .line-numbers')].find(
          (n) => px(n.parentElement.style.top) === top,
        );
      return num ? Number(num.textContent.trim()) : undefined;
    },
    /** stoppedLine is the line of the top-stack-frame decoration, or undefined. */
    stoppedLine(file) {
      const ed = e2e.editor(file);
      const d = ed && ed.querySelector('.view-overlays .debug-top-stack-frame-line');
      return d ? e2e.lineOfTop(file, px(d.parentElement.style.top)) : undefined;
    },
    /** editorText returns the rendered text of an editor, in line order. */
    editorText(file) {
      const ed = e2e.editor(file);
      if (!ed) {
        return '';
      }
      return [...ed.querySelectorAll('.view-lines .view-line')]
        .sort((a, b) => px(a.style.top) - px(b.style.top))
        .map((l) => text(l))
        .join('\n');
    },
    visible(selector) {
      const el = document.querySelector(selector);
      return !!el && el.offsetParent !== null;
    },
    /** debugRunning: the debug toolbar is shown. */
    toolbar() {
      const t = document.querySelector('.debug-toolbar');
      if (!t || t.offsetParent === null || getComputedStyle(t).display === 'none') {
        return undefined;
      }
      if (t.querySelector('.codicon-debug-pause')) {
        return 'running';
      }
      if (t.querySelector('.codicon-debug-continue')) {
        return 'paused';
      }
      return 'shown';
    },

    /** breakpoints lists the Breakpoints view's rows, without the adapter's exception filters. */
    breakpoints() {
      return [...document.querySelectorAll('.debug-breakpoints .monaco-list-row')]
        .filter((r) => !r.querySelector('.exception'))
        .map((r) => r.getAttribute('aria-label') || text(r));
    },
    /** paneRows lists the rows of a view pane by its header's title. */
    paneRows(title) {
      const header = [...document.querySelectorAll('.pane-header')].find((h) =>
        (h.getAttribute('aria-label') || '').startsWith(title),
      );
      const pane = header && header.closest('.pane');
      if (!pane) {
        return undefined;
      }
      // label is the accessible name (the tooltip, when the item has one);
      // name and description are the row's text as it is drawn.
      return [...pane.querySelectorAll('.pane-body .monaco-list-row')].map((r) => ({
        label: r.getAttribute('aria-label') || '',
        level: r.getAttribute('aria-level'),
        name: text(r.querySelector('.label-name') || r).trim(),
        description: text(r.querySelector('.label-description') || { textContent: '' }).trim(),
      }));
    },
    /**
     * compareRows lists the Contention view's "Compared with …" group: its
     * own row, then its children; [] while it is not there.
     */
    compareRows() {
      const rows = e2e.paneRows('Contention') || [];
      const g = rows.findIndex((r) => r.level === '1' && r.name.startsWith('Compared with '));
      if (g < 0) {
        return [];
      }
      const end = rows.findIndex((r, i) => i > g && r.level === '1');
      return rows.slice(g, end < 0 ? rows.length : end);
    },
    /**
     * forwardedPorts lists the Ports view's ports, [] when it shows its empty
     * state, or undefined while it is not shown.
     */
    forwardedPorts() {
      const panel = document.querySelector('.part.panel');
      const view = panel && panel.querySelector('.ports-view');
      if (view && view.offsetParent !== null) {
        return [...view.querySelectorAll('.monaco-list-row')]
          .map((r) => r.getAttribute('aria-label') || text(r))
          .filter((l) => l !== 'Add Port');
      }
      return panel && /No forwarded ports/.test(panel.innerText) ? [] : undefined;
    },
    problems() {
      return [...document.querySelectorAll('.markers-panel .monaco-list-row')]
        .map((r) => r.getAttribute('aria-label') || '')
        .filter((l) => !/^\d+ problems? in file/.test(l));
    },
    notifications() {
      return [...document.querySelectorAll('.notifications-toasts .notification-toast')]
        .filter((t) => t.offsetParent !== null)
        .map((t) => ({
          text: (t.querySelector('.notification-list-item-message') || t).textContent,
          error: !!t.querySelector('.codicon-error'),
        }));
    },
    /** hover returns the text of the hover that is shown, once its fade-in has finished. */
    hover() {
      const h = [...document.querySelectorAll('.monaco-hover:not(.hidden)')].find((x) => {
        const r = x.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && x.innerText.trim();
      });
      if (!h || h.getAnimations({ subtree: true }).some((a) => a.playState === 'running')) {
        return undefined;
      }
      return h.innerText;
    },
    /** replRows lists the Debug Console's rendered rows (their aria-labels hold the text). */
    replRows() {
      return [...document.querySelectorAll('.repl .monaco-list-row')].map((r) => r.getAttribute('aria-label') || '');
    },
    /** frame waits for two animation frames: the DOM has rendered the last input. */
    frame() {
      return new Promise((resolve) => window.requestAnimationFrame(() => window.requestAnimationFrame(resolve)));
    },
  };
  window.e2e = e2e;
}
