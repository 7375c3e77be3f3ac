// A small publish/subscribe hub that hands socket messages to the UI parts listening on a channel.
import { channelsFor, type Channel, type ServerEvent } from './messages';

export type Listener = (event: ServerEvent) => void;

export class EventBus {
  private listeners = new Map<Channel, Set<Listener>>();

  /** Listens on a channel; returns the function that stops listening. */
  subscribe(channel: Channel, listener: Listener): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Delivers a message to every listener of each channel it belongs to. */
  publish(event: ServerEvent): void {
    for (const channel of channelsFor(event)) {
      for (const listener of this.listeners.get(channel) ?? []) listener(event);
    }
  }
}
