// The HD layer (docs/architecture.md `hd/`): BIP-39 seeds kept in the keystore, keys derived from them by path,
// BIP-44 accounts, and the mnemonic paper backup (QR code as terminal text, SVG and PNG).
export { type AccountInfo, accountPath, type NextKey } from './accounts.js';
export {
  type ImageOptions,
  mnemonicPaperBackup,
  type PaperBackup,
  renderQrPng,
  renderQrSvg,
  renderQrTerminal,
  type TerminalOptions,
} from './paper.js';
export { byteCapacity, encodeQr, type QrCode } from './qr.js';
export type {
  AccountAlgorithm,
  AccountChain,
  SeedInfo,
  SeedSource,
} from './records.js';
export {
  type CreateSeedSpec,
  type DeriveKeySpec,
  derivedKeyId,
  HD_LABELS,
  type HdOptions,
  HdWallet,
  type ImportSeedSpec,
} from './wallet.js';
