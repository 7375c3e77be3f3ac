// Type declarations for Vite's client (CSS imports and the like).
/// <reference types="vite/client" />
