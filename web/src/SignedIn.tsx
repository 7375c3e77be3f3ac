// The signed-in layout: navigation plus the page for the current path.
import { useEffect } from 'react';
import { Nav } from './components/Nav';
import { navigate } from './router';
import { useSession } from './session';
import { useQueueCounts } from './queue/useQueueCounts';
import { GalleryPage } from './pages/GalleryPage';
import { GeneratePage } from './pages/GeneratePage';
import { QueuePage } from './pages/QueuePage';
import { ModelsPage } from './pages/ModelsPage';
import { ProfilePage } from './pages/ProfilePage';
import { UsersPage } from './pages/UsersPage';

const PAGES = ['/gallery', '/generate', '/queue', '/models', '/profile', '/users'];

export function SignedIn({ path }: { path: string }) {
  const session = useSession();
  const counts = useQueueCounts(session.bus);
  const known = PAGES.some((page) => path.startsWith(page));
  useEffect(() => {
    if (!known) navigate('/gallery', true);
  }, [known]);

  let page = <GalleryPage />;
  if (path.startsWith('/generate')) page = <GeneratePage />;
  else if (path.startsWith('/queue')) page = <QueuePage />;
  else if (path.startsWith('/models')) page = <ModelsPage />;
  else if (path.startsWith('/profile') && session.multiuser) page = <ProfilePage />;
  else if (path.startsWith('/users') && session.multiuser && session.isAdmin) page = <UsersPage />;

  return (
    <div className="layout">
      <Nav path={path} counts={counts} />
      <main className="content">{page}</main>
    </div>
  );
}
