// The relay's refusals in the dashboard's language. The relay answers
// `{"error": code, "reason"?: code, "message": text}`: `reason` is the more
// specific code where it gives one, `error` the general one. A code with no
// words here is shown in the relay's own (English) words.

import { lang } from './i18n.js';

const zh = {
  reason_required: '请填写理由：工作者和居民会看到它',
  not_allowed_now: '这张心愿卡当前的状态不允许这个操作，可能已有人先处理了。请刷新页面查看最新状态',
  role_not_allowed: '您的角色不能做这个操作',
  holder_only: '只有认领这个心愿的志愿者或单位才能这样做',
  out_of_scope: '这个范围不在您负责的范围内',
  claimant_required: '请选择志愿者或单位，或填写认领人的姓名',
  session_changed: '登录状态已变化（可能在别的标签页重新登录过），请刷新页面后再试',
  forbidden: '您没有权限做这个操作',
  not_found: '找不到这条记录，或它不在您的范围内',
  claim_lost: '有人刚刚先认领了这个心愿；心愿归先认领的一方，督导会看到两次认领',
  storage_full: '服务器存储空间已满，这次操作没有保存。请稍后再试，并联系管理员',
  storage_read_only: '服务器的数据库暂时无法写入，这次操作没有保存。请稍后再试，并联系管理员',
  storage_unavailable: '服务器的数据库出现故障，这次操作没有保存。请稍后再试',
  too_many_attempts: '尝试次数太多，请稍后再试',
  unauthorized: '登录已过期，请重新登录',
  invalid_token: '登录已过期，请重新登录',
  device_revoked: '这台设备已被停用，请重新登录',
  photo_too_large: '照片太大',
  photo_purged: '这张照片已被督导删除',
  internal: '服务器出错了，请稍后再试',
  network: '无法连接服务器，请检查网络后再试',
};

const en = {
  reason_required: 'Please give a reason: the worker and the resident see it',
  not_allowed_now: 'The card’s status does not allow this now; someone may have acted on it first. Reload the page to see where it stands',
  role_not_allowed: 'Your role may not do this',
  holder_only: 'Only the volunteer or unit holding this wish may do this',
  out_of_scope: 'That scope is outside yours',
  claimant_required: 'Choose a volunteer or unit, or type the name of whoever takes it',
  session_changed: 'Your login changed (perhaps in another tab); reload the page and try again',
  forbidden: 'You may not do this',
  not_found: 'It is not there, or not in your scope',
  claim_lost: 'Someone claimed this wish just before; it stays with them, and a supervisor sees both claims',
  storage_full: 'The relay’s storage is full and nothing was saved. Try again later, and tell the administrator',
  storage_read_only: 'The relay’s database cannot be written now and nothing was saved. Try again later, and tell the administrator',
  storage_unavailable: 'The relay’s database is failing and nothing was saved. Try again later',
  too_many_attempts: 'Too many attempts; try again later',
  unauthorized: 'Your login has expired; log in again',
  invalid_token: 'Your login has expired; log in again',
  device_revoked: 'This device was revoked; log in again',
  photo_too_large: 'The photo is too large',
  photo_purged: 'A supervisor removed this photo',
  internal: 'Something went wrong on the relay; try again later',
  network: 'The relay cannot be reached; check the connection and try again',
};

const words = lang === 'zh' ? zh : en;

/** The code that words an error: the relay's reason, its code, or `network`. */
export function errorCode(e) {
  if (e instanceof TypeError) return 'network';
  return e?.reason || e?.code || '';
}

/** An error in the interface's language, or in the relay's words. */
export function explain(e) {
  return words[errorCode(e)] ?? e?.message ?? String(e);
}
