// The main navigation: page links, the queue badge and who is signed in.
import type { MouseEvent } from 'react';
import { navigate } from '../router';
import { useSession } from '../session';
import { QueueBadge } from './QueueBadge';
import type { QueueCounts } from '../api/types';

interface Link {
  path: string;
  label: string;
  testId: string;
}

export function Nav({ path, counts }: { path: string; counts: QueueCounts | null }) {
  const session = useSession();
  const links: Link[] = [
    { path: '/gallery', label: 'Gallery', testId: 'nav-gallery' },
    { path: '/generate', label: 'Generate', testId: 'nav-generate' },
    { path: '/queue', label: 'Queue', testId: 'nav-queue' },
    { path: '/models', label: 'Models', testId: 'nav-models' },
  ];
  if (session.multiuser && session.isAdmin) links.push({ path: '/users', label: 'Users', testId: 'nav-users' });
  if (session.multiuser) links.push({ path: '/profile', label: 'Profile', testId: 'nav-profile' });

  const follow = (event: MouseEvent<HTMLAnchorElement>, to: string) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <nav className="nav" aria-label="Main">
      <span className="brand">Atelier</span>
      <ul>
        {links.map((link) => (
          <li key={link.path}>
            <a
              href={link.path}
              data-testid={link.testId}
              aria-current={path.startsWith(link.path) ? 'page' : undefined}
              onClick={(e) => follow(e, link.path)}
            >
              {link.label}
              {link.path === '/queue' && <QueueBadge counts={counts} />}
            </a>
          </li>
        ))}
      </ul>
      {session.multiuser && (
        <span className="nav-user" data-testid="nav-user">
          {session.user.display_name}
          {session.isAdmin && <span className="admin-badge">Admin</span>}
        </span>
      )}
    </nav>
  );
}
