/**
 * A store put together from one implementation of each role (Kysely's dialects are put together
 * from a driver, an adapter and a query compiler the same way): the backend's class extends this,
 * implements `StoreAdmin` itself, and hands its role objects to the constructor. Every role method
 * is forwarded here, once for every backend.
 */
import type { JobStore, MemoryHistory, MemoryRecords, SearchIndex } from './store.js';

export interface StoreRoles {
  records: MemoryRecords;
  history: MemoryHistory;
  search: SearchIndex;
  jobs: JobStore;
}

export abstract class ComposedStore implements MemoryRecords, MemoryHistory, SearchIndex, JobStore {
  readonly #records: MemoryRecords;
  readonly #memoryHistory: MemoryHistory;
  readonly #search: SearchIndex;
  readonly #jobs: JobStore;

  protected constructor(roles: StoreRoles) {
    this.#records = roles.records;
    this.#memoryHistory = roles.history;
    this.#search = roles.search;
    this.#jobs = roles.jobs;
  }

  // MemoryRecords
  insert(...args: Parameters<MemoryRecords['insert']>): ReturnType<MemoryRecords['insert']> {
    return this.#records.insert(...args);
  }
  get(...args: Parameters<MemoryRecords['get']>): ReturnType<MemoryRecords['get']> {
    return this.#records.get(...args);
  }
  getMany(...args: Parameters<MemoryRecords['getMany']>): ReturnType<MemoryRecords['getMany']> {
    return this.#records.getMany(...args);
  }
  findByHash(...args: Parameters<MemoryRecords['findByHash']>): ReturnType<MemoryRecords['findByHash']> {
    return this.#records.findByHash(...args);
  }
  findByHashes(...args: Parameters<MemoryRecords['findByHashes']>): ReturnType<MemoryRecords['findByHashes']> {
    return this.#records.findByHashes(...args);
  }
  list(...args: Parameters<MemoryRecords['list']>): ReturnType<MemoryRecords['list']> {
    return this.#records.list(...args);
  }
  update(...args: Parameters<MemoryRecords['update']>): ReturnType<MemoryRecords['update']> {
    return this.#records.update(...args);
  }
  delete(...args: Parameters<MemoryRecords['delete']>): ReturnType<MemoryRecords['delete']> {
    return this.#records.delete(...args);
  }
  forget(...args: Parameters<MemoryRecords['forget']>): ReturnType<MemoryRecords['forget']> {
    return this.#records.forget(...args);
  }
  touch(...args: Parameters<MemoryRecords['touch']>): ReturnType<MemoryRecords['touch']> {
    return this.#records.touch(...args);
  }
  neighbours(...args: Parameters<MemoryRecords['neighbours']>): ReturnType<MemoryRecords['neighbours']> {
    return this.#records.neighbours(...args);
  }
  categories(...args: Parameters<MemoryRecords['categories']>): ReturnType<MemoryRecords['categories']> {
    return this.#records.categories(...args);
  }
  addedPerDay(...args: Parameters<MemoryRecords['addedPerDay']>): ReturnType<MemoryRecords['addedPerDay']> {
    return this.#records.addedPerDay(...args);
  }
  expired(...args: Parameters<MemoryRecords['expired']>): ReturnType<MemoryRecords['expired']> {
    return this.#records.expired(...args);
  }
  scan(...args: Parameters<MemoryRecords['scan']>): ReturnType<MemoryRecords['scan']> {
    return this.#records.scan(...args);
  }

  // MemoryHistory
  history(...args: Parameters<MemoryHistory['history']>): ReturnType<MemoryHistory['history']> {
    return this.#memoryHistory.history(...args);
  }
  historyMany(...args: Parameters<MemoryHistory['historyMany']>): ReturnType<MemoryHistory['historyMany']> {
    return this.#memoryHistory.historyMany(...args);
  }
  deleted(...args: Parameters<MemoryHistory['deleted']>): ReturnType<MemoryHistory['deleted']> {
    return this.#memoryHistory.deleted(...args);
  }
  scanHistory(...args: Parameters<MemoryHistory['scanHistory']>): ReturnType<MemoryHistory['scanHistory']> {
    return this.#memoryHistory.scanHistory(...args);
  }

  // SearchIndex
  keywordSearch(...args: Parameters<SearchIndex['keywordSearch']>): ReturnType<SearchIndex['keywordSearch']> {
    return this.#search.keywordSearch(...args);
  }
  vectorSearch(...args: Parameters<SearchIndex['vectorSearch']>): ReturnType<SearchIndex['vectorSearch']> {
    return this.#search.vectorSearch(...args);
  }
  vectorsOf(...args: Parameters<SearchIndex['vectorsOf']>): ReturnType<SearchIndex['vectorsOf']> {
    return this.#search.vectorsOf(...args);
  }
  setVectors(...args: Parameters<SearchIndex['setVectors']>): ReturnType<SearchIndex['setVectors']> {
    return this.#search.setVectors(...args);
  }
  getEmbeddingInfo(...args: Parameters<SearchIndex['getEmbeddingInfo']>): ReturnType<SearchIndex['getEmbeddingInfo']> {
    return this.#search.getEmbeddingInfo(...args);
  }
  setEmbeddingInfo(...args: Parameters<SearchIndex['setEmbeddingInfo']>): ReturnType<SearchIndex['setEmbeddingInfo']> {
    return this.#search.setEmbeddingInfo(...args);
  }

  // JobStore
  enqueueJob(...args: Parameters<JobStore['enqueueJob']>): ReturnType<JobStore['enqueueJob']> {
    return this.#jobs.enqueueJob(...args);
  }
  getJob(...args: Parameters<JobStore['getJob']>): ReturnType<JobStore['getJob']> {
    return this.#jobs.getJob(...args);
  }
  claimJob(...args: Parameters<JobStore['claimJob']>): ReturnType<JobStore['claimJob']> {
    return this.#jobs.claimJob(...args);
  }
  renewJobLease(...args: Parameters<JobStore['renewJobLease']>): ReturnType<JobStore['renewJobLease']> {
    return this.#jobs.renewJobLease(...args);
  }
  settleJob(...args: Parameters<JobStore['settleJob']>): ReturnType<JobStore['settleJob']> {
    return this.#jobs.settleJob(...args);
  }
  jobCounts(...args: Parameters<JobStore['jobCounts']>): ReturnType<JobStore['jobCounts']> {
    return this.#jobs.jobCounts(...args);
  }
  pruneJobs(...args: Parameters<JobStore['pruneJobs']>): ReturnType<JobStore['pruneJobs']> {
    return this.#jobs.pruneJobs(...args);
  }
}
