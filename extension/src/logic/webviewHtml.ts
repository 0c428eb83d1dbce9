/**
 * The HTML of a lockscope webview page, with its Content-Security-Policy:
 * nothing by default, the extension's own stylesheet, and one script
 * allowed by a per-page nonce. No inline style, no eval, no network.
 */

export interface PageParts {
  title: string;
  /** A fresh random nonce for this page (base64). */
  nonce: string;
  /** webview.cspSource: the origin of the extension's local resources. */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  /** The page's body before the script (static markup only). */
  body: string;
}

/** contentSecurityPolicy is the policy of a lockscope webview page. */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return ["default-src 'none'", `style-src ${cspSource}`, `font-src ${cspSource}`, `script-src 'nonce-${nonce}'`].join(
    '; ',
  );
}

function attr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** webviewHtml writes the page. */
export function webviewHtml(p: PageParts): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(p.cspSource, p.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(p.styleUri)}">
<title>${attr(p.title)}</title>
</head>
<body>
${p.body}
<script nonce="${attr(p.nonce)}" src="${attr(p.scriptUri)}"></script>
</body>
</html>`;
}
