// A small history-API router under the app's base (/studio/): every screen
// has its own address, so deep links and reloads land where they were.

import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';

export const BASE = import.meta.env.BASE_URL.replace(/\/$/, '');

export type Route =
  | { name: 'signin' }
  | { name: 'signup' }
  | { name: 'organizations' }
  | { name: 'projects'; org: string }
  | { name: 'project'; project: string }
  | { name: 'page'; project: string; page: string }
  | { name: 'table'; project: string; table: string }
  | { name: 'records'; project: string; table: string }
  | { name: 'missing' };

export function parse(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = rest.split('/').filter(Boolean).map(decodeURIComponent);
  const [a, b, c, d, e] = parts;
  if (parts.length === 0) return { name: 'organizations' };
  if (a === 'signin' && parts.length === 1) return { name: 'signin' };
  if (a === 'signup' && parts.length === 1) return { name: 'signup' };
  if (a === 'orgs' && parts.length === 1) return { name: 'organizations' };
  if (a === 'orgs' && parts.length === 2) return { name: 'projects', org: b };
  if (a === 'projects' && parts.length === 2) return { name: 'project', project: b };
  if (a === 'projects' && c === 'pages' && parts.length === 4) return { name: 'page', project: b, page: d };
  if (a === 'projects' && c === 'tables' && parts.length === 4) return { name: 'table', project: b, table: d };
  if (a === 'projects' && c === 'tables' && e === 'records' && parts.length === 5)
    return { name: 'records', project: b, table: d };
  return { name: 'missing' };
}

export const href = (path: string) => `${BASE}${path.startsWith('/') ? path : `/${path}`}`;

export function navigate(path: string, replace = false) {
  const target = href(path);
  if (replace) history.replaceState(null, '', target);
  else history.pushState(null, '', target);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parse(location.pathname));
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return route;
}

/** A link inside the app: a real <a href> that navigates without a reload. */
export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const click = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
      return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={href(to)} onClick={click} {...rest} />;
}
