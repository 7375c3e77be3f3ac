// The JSON shapes the server sends and takes (see src/*/model.rs in the Rust code).

export interface AuthStatus {
  multiuser_enabled: boolean;
  setup_required: boolean;
  /** The S3 door's port on this host, or null when it is off. */
  s3_port?: number | null;
  /** The S3 door's address for clients, when the server is configured with one. */
  s3_public_url?: string | null;
}

/** An S3 access key (never its secret, except once in `NewS3Key`). */
export interface S3Key {
  access_key_id: string;
  owner_id: string;
  label: string;
  read_only: boolean;
  created_at: string;
}

export interface NewS3Key extends S3Key {
  secret_access_key: string;
}

export interface User {
  id: string;
  email: string;
  display_name: string;
  is_admin: boolean;
  is_active: boolean;
  created_at: string;
  quota_bytes: number | null;
  used_bytes: number;
  sched_weight: number;
  /** GPU-seconds the user's jobs used in the last 24 hours (admins see everyone's). */
  gpu_seconds_day: number;
  /** GPU-seconds in the last 7 days. */
  gpu_seconds_week: number;
}

export interface LoginResponse {
  token: string;
  user: User;
  expires_in: number;
}

export interface Board {
  id: string;
  name: string;
  owner_id: string;
  owner_name: string;
  image_count: number;
  asset_count: number;
  cover_image_id: string | null;
  created_at: string;
}

export interface Uncategorized {
  owner_id: string;
  image_count: number;
  asset_count: number;
  cover_image_id: string | null;
}

export interface BoardList {
  boards: Board[];
  uncategorized: Uncategorized;
}

export type Category = 'general' | 'user' | 'mask';

export interface Image {
  id: string;
  owner_id: string;
  owner_name: string;
  board_id: string | null;
  category: Category;
  content_type: string;
  width: number;
  height: number;
  byte_size: number;
  starred: boolean;
  created_at: string;
  metadata?: Record<string, unknown> | null;
  image_url: string;
  thumbnail_url: string;
}

export interface ImagePage {
  items: Image[];
  next_cursor: string | null;
}

export const SAMPLERS = ['ddim', 'euler', 'euler_a', 'dpmpp_2m_karras'] as const;

/** One LoRA adapter in a job: an installed LoRA of the model's family and its strength. */
export interface LoraChoice {
  name: string;
  /** From -4 to 4; 1 is the LoRA as trained, 0 leaves the model as it is. */
  weight: number;
}

export interface GenerationParams {
  model: string;
  prompt: string;
  negative_prompt: string;
  width: number;
  height: number;
  steps: number;
  cfg_scale: number;
  sampler: string;
  seed?: number;
  num_images: number;
  board_id?: string;
  /** Image to image: one of the caller's own images to start from. */
  init_image_id?: string;
  /** Image to image: how much to change the init image (0 < s <= 1); the job runs floor(steps × s) steps. */
  strength?: number;
  /**
   * Inpainting (needs init_image_id): one of the caller's own images, read as grayscale at the
   * job's size; white is repainted, black keeps the init image's pixels exactly, grey blends.
   */
  mask_image_id?: string;
  /**
   * Inpainting (with mask_image_id only): how far, in pixels (0 to 64), the repainted region fades
   * into the kept one; 0 or absent uses the mask as painted. The server drops it without a mask.
   */
  mask_blur?: number;
  /** An installed VAE (type vae, base "any" or the model's) to use instead of the model's own; absent or '' is the model's own. */
  vae?: string;
  /**
   * CLIP skip, 1 to 4 (SD 1.x and 2.x models only): 1 reads the text encoder's last layer, 2 the
   * one before (what many SD 1.x anime models expect). Absent is 1; the server leaves 1 out.
   */
  clip_skip?: number;
  /**
   * Seamless tiling, any model family: the image wraps around left to right (x) and/or top to
   * bottom (y), so copies of it tile without a seam. Absent is false; the server leaves false out.
   */
  seamless_x?: boolean;
  seamless_y?: boolean;
  /** Installed LoRAs (type lora, the model's base) applied in this order: at most 8, each once; absent is none. */
  loras?: LoraChoice[];
}

/** A part of a prompt with a weight other than 1: `(cat:1.5)`, `(cat)` (1.1), `[cat]` (1/1.1). */
export interface WeightedPart {
  text: string;
  weight: number;
}

/** How the engine reads a prompt (`POST /prompts/tokens`). */
export interface PromptTokens {
  /** CLIP tokens of prompt text (start and end tokens not counted). */
  tokens: number;
  /** Chunks of up to 75 tokens the text encoder sees (at least 1, at most max_tokens / 75). */
  chunks: number;
  /** The most tokens read (600); more are cut. */
  max_tokens: number;
  /** Whether tokens beyond max_tokens will be cut. */
  truncated: boolean;
  /** The weighted parts, in order. */
  weighted: WeightedPart[];
}

export type QueueStatusName = 'pending' | 'in_progress' | 'completed' | 'failed' | 'canceled';

export interface QueueItem {
  id: string;
  owner_id: string | null;
  owner_name: string;
  is_mine: boolean;
  status: QueueStatusName;
  position: number | null;
  /** The parameters, or the string "<hidden>" for other users' items. */
  params: Partial<GenerationParams> | string;
  error: string | null;
  result_image_ids: string[];
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** Its place in queue order (the paging cursor). */
  seq: number;
}

export interface QueueCounts {
  mine_pending: number;
  mine_in_progress: number;
  total_pending: number;
  total_in_progress: number;
  paused: boolean;
}

export interface ModelDefaults {
  steps?: number;
  cfg_scale?: number;
  sampler?: string;
  width?: number;
  height?: number;
  /** 1 to 4; see GenerationParams.clip_skip. */
  clip_skip?: number;
}

export interface Model {
  id: string;
  name: string;
  base: string;
  type: 'main' | 'vae' | 'lora';
  format: string;
  size_bytes: number;
  hash: string;
  defaults: ModelDefaults;
  description: string;
  source?: string;
  location?: string;
  created_at: string;
  updated_at: string;
}

export interface Install {
  id: string;
  source: string;
  status: 'pending' | 'running' | 'completed' | 'failed';
  bytes_done: number;
  bytes_total: number | null;
  error: string | null;
  error_code: string | null;
  model_id: string | null;
  created_at: string;
}

export interface LoadedModel {
  /** The catalogue's `location` of the model. */
  location: string;
  bytes: number;
}

export interface WorkerMemory {
  device: string;
  /** 0: no budget. */
  budget_bytes: number;
  /** Least recently used first. */
  models: LoadedModel[];
}

export interface Worker {
  name: string;
  device: string;
  started_at: string;
  last_seen: string;
  online: boolean;
  loaded_bytes: number;
  memory: WorkerMemory;
  running_item_id: string | null;
}
