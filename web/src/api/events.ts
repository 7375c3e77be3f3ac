// The event socket's ticket (browsers cannot send headers on a WebSocket upgrade).
import { request } from './client';

export const getEventTicket = () => request<{ ticket: string; expires_in: number }>('POST', '/events/ticket');
