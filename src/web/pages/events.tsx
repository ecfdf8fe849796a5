// Rotation events, live (docs/console.md): the daemon's server-sent events at /v1/rotation/events
// (admin), read through fetch so the token travels in a header. Newest first; announced politely.
import { useEffect, useState } from 'preact/hooks';
import { streamEvents, when } from '../api';
import { ErrorLine, Heading } from '../ui';

interface RotationEvent {
  id: string;
  type: string;
  keyId: string;
  app: string;
  purpose: string;
  version: number;
  at: number;
}

export function EventsPage() {
  const [events, setEvents] = useState<RotationEvent[]>([]);
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    const stop = new AbortController();
    setConnected(true);
    streamEvents(
      '/rotation/events',
      (_type, data) => {
        try {
          const event = JSON.parse(data) as RotationEvent;
          setEvents((list) => [event, ...list].slice(0, 200));
        } catch {
          // not an event frame
        }
      },
      stop.signal,
    )
      .catch((caught: unknown) => {
        if (!stop.signal.aborted) setError(caught);
      })
      .finally(() => setConnected(false));
    return () => stop.abort();
  }, []);
  return (
    <>
      <Heading>Rotation events</Heading>
      <p>{connected ? 'Listening for rotation events from the daemon.' : 'Not connected.'}</p>
      <ErrorLine error={error} />
      <ol class="timeline" aria-live="polite" aria-label="Rotation events, newest first">
        {events.map((e) => (
          <li key={e.id}>
            <time>{when(e.at)}</time> <strong>{e.type}</strong> <a href={`#/keys/${e.keyId}`}>{e.keyId}</a> (
            {e.app}/{e.purpose}) version {e.version}
          </li>
        ))}
      </ol>
      {events.length === 0 && <p>No events yet.</p>}
    </>
  );
}
