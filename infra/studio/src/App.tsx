// The app: the screen for the address, behind sign-in.

import { useEffect, useState } from 'react';
import { getSession, onSession } from './api/client';
import { navigate, useRoute } from './router';
import { SignIn, SignUp } from './screens/Auth';
import { Organizations, ProjectHome, Projects } from './screens/Workspace';
import { TableDesigner } from './screens/TableDesigner';
import { RecordsGrid } from './screens/RecordsGrid';
import { PageEditorScreen } from './editor/PageEditor';
import { Frame, Main } from './ui';

export function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => getSession() !== null);
  useEffect(() => onSession((s) => setSignedIn(s !== null)), []);
  const open = route.name === 'signin' || route.name === 'signup';

  useEffect(() => {
    if (!signedIn && !open) navigate('/signin', true);
    if (signedIn && open) navigate('/orgs', true);
  }, [signedIn, open]);

  if (route.name === 'signin') return <SignIn />;
  if (route.name === 'signup') return <SignUp />;
  if (!signedIn) return null;
  switch (route.name) {
    case 'organizations':
      return <Organizations />;
    case 'projects':
      return <Projects org={route.org} />;
    case 'project':
      return <ProjectHome project={route.project} />;
    case 'page':
      return <PageEditorScreen project={route.project} page={route.page} />;
    case 'table':
      return <TableDesigner project={route.project} table={route.table} />;
    case 'records':
      return <RecordsGrid project={route.project} table={route.table} />;
    case 'missing':
      return (
        <Frame title="Not found">
          <Main title="Nothing here">
            <p>This address shows nothing in the studio.</p>
          </Main>
        </Frame>
      );
  }
}
