// The model catalogue: everyone reads; admins install, upload, scan, edit and delete.
import { getToken, request, errorFromResponse, apiUrl, ApiError } from './client';
import type { Install, Model, ModelDefaults } from './types';

export const listModels = () => request<Model[]>('GET', '/models');

export const getModel = (id: string) => request<Model>('GET', `/models/${id}`);

export const updateModel = (id: string, patch: { name?: string; description?: string; defaults?: ModelDefaults }) =>
  request<Model>('PATCH', `/models/${id}`, { json: patch });

export const deleteModel = (id: string, force: boolean) =>
  request<{ canceled_jobs: number }>('DELETE', `/models/${id}`, { query: { force: force || undefined } });

/** Starts installing from a server path or an http(s) URL; follow it with getInstall. */
export const installModel = (source: string, name?: string) =>
  request<Install>('POST', '/models/install', { json: { source, name: name || undefined } });

export const getInstall = (id: string) => request<Install>('GET', `/models/installs/${id}`);

export const listInstalls = () => request<Install[]>('GET', '/models/installs');

export const scanModels = () => request<{ added: Model[]; skipped: unknown[] }>('POST', '/models/scan');

/** Uploads a .safetensors file as the raw body, reporting progress (XHR: fetch has no upload progress). */
export function uploadModel(file: File, onProgress: (fraction: number) => void): Promise<Model> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiUrl('/models/upload', { filename: file.name }));
    const token = getToken();
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'the upload failed: cannot reach the server'));
    xhr.onload = async () => {
      const response = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText));
      else reject(await errorFromResponse(response));
    };
    xhr.send(file);
  });
}
