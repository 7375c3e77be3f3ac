// Keeps the event WebSocket open: a fresh ticket per connection, reconnects with backoff, and
// reports the end of the session (close code 4401 and a refused ticket) instead of reconnecting.
import { getEventTicket } from '../api/events';
import { ApiError } from '../api/client';
import type { EventBus } from './bus';
import { parseEvent } from './messages';

export const SESSION_ENDED_CODE = 4401;

export interface SocketOptions {
  bus: EventBus;
  onSessionEnded: () => void;
  /** Called with true when connected, false when the connection drops. */
  onConnectedChange?: (connected: boolean) => void;
  makeSocket?: (url: string) => WebSocket;
}

export class EventSocket {
  private socket: WebSocket | null = null;
  private stopped = false;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private options: SocketOptions) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let ticket: string;
    try {
      ticket = (await getEventTicket()).ticket;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return this.options.onSessionEnded();
      return this.retryLater();
    }
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}/api/v1/events?ticket=${encodeURIComponent(ticket)}`;
    const socket = this.options.makeSocket ? this.options.makeSocket(url) : new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.options.onConnectedChange?.(true);
      // Whatever happened while disconnected is unknown: refresh the queue views.
      this.options.bus.publish({ type: 'resync' });
    };
    socket.onmessage = (message) => {
      const event = parseEvent(message.data);
      if (event) this.options.bus.publish(event);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.options.onConnectedChange?.(false);
      // The socket's session ended, but the page may already hold a newer token (a password
      // change revokes the old session and returns a new one): a fresh ticket decides at once,
      // and connect() reports the end of the session if the server refuses it.
      if (close.code === SESSION_ENDED_CODE) return void this.connect();
      this.retryLater();
    };
  }

  private retryLater(): void {
    if (this.stopped) return;
    this.attempts += 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.attempts, 6));
    this.timer = setTimeout(() => void this.connect(), delay);
  }
}
