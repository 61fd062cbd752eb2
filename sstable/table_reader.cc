#include "sstable/table_reader.h"

#include "sstable/block_cache.h"
#include "sstable/block_fetcher.h"
#include "sstable/pooled_block_writer.h"
#include "sstable/table_iterator.h"

namespace fsdb {

Status TableReader::open(FileSystem& fs, const std::string& path, uint64_t file_number,
                         const TableOptions& options, std::unique_ptr<TableReader>* reader) {
  std::unique_ptr<RandomAccessFile> file;
  RandomAccessFileOptions file_options;
  file_options.use_mmap = options.use_mmap_reads;
  Status s = fs.new_random_access_file(path, file_options, &file);
  if (!s.ok()) return s;
  uint64_t size = 0;
  s = file->size(&size);
  if (!s.ok()) return s;
  return open(options, std::move(file), size, path, file_number, reader);
}

Status TableReader::open(const TableOptions& options, std::unique_ptr<RandomAccessFile> file,
                         uint64_t file_size, std::string path, uint64_t file_number,
                         std::unique_ptr<TableReader>* reader) {
  std::unique_ptr<TableReader> r(
      new TableReader(options, std::move(file), file_size, std::move(path), file_number));
  Status s = r->open_blocks();
  if (!s.ok()) return s;
  *reader = std::move(r);
  return Status::OK();
}

TableReader::TableReader(const TableOptions& options, std::unique_ptr<RandomAccessFile> file,
                         uint64_t file_size, std::string path, uint64_t file_number)
    : options_(options),
      file_(std::move(file)),
      file_size_(file_size),
      path_(std::move(path)),
      file_number_(file_number) {
  if (options_.block_cache != nullptr) cache_id_ = options_.block_cache->new_cache_id();
}

TableReader::~TableReader() {
  // The blocks of a closed table can never be looked up again (cache ids are
  // not reused); free them now rather than waiting for LRU eviction.
  if (options_.block_cache != nullptr) options_.block_cache->erase_table(cache_id_);
}

Status TableReader::open_blocks() {
  if (file_size_ < Footer::kEncodedBytes) {
    return Status::Corruption(path_ + ": file too short to be a table (" +
                              std::to_string(file_size_) + " bytes)");
  }
  data_end_ = file_size_ - Footer::kEncodedBytes;
  char footer_space[Footer::kEncodedBytes];
  std::string_view footer_bytes;
  Status s = file_->read(data_end_, Footer::kEncodedBytes, &footer_bytes, footer_space);
  if (!s.ok()) return s;
  s = footer_.decode_from(footer_bytes, path_ + ": footer at offset " + std::to_string(data_end_));
  if (!s.ok()) return s;

  // The properties first: they locate the dictionary (the properties and
  // index blocks are never compressed with it).
  std::string properties_contents;
  if (!(s = read_meta_block(footer_.properties, "properties", &properties_contents)).ok()) {
    return s;
  }
  s = TableProperties::decode(std::move(properties_contents), &properties_);
  if (!s.ok()) return block_error(footer_.properties.offset, s);
  if (footer_.format_version == kTableFormatVersionWithoutDictionary &&
      properties_.dictionary_bytes != 0) {
    return block_corruption(path_, footer_.properties.offset,
                            "a version-1 table cannot have a compression dictionary");
  }
  s = read_compression_dictionary(*file_, path_, data_end_, options_.verify_checksums, properties_,
                                  &dictionary_);
  if (!s.ok()) return s;

  std::string index_contents;
  if ((s = read_meta_block(footer_.index, "index", &index_contents)).ok()) {
    std::unique_ptr<Block> index_block;
    s = Block::parse(std::move(index_contents), &index_block);
    if (s.ok()) s = index_.build(*index_block, data_end_);
    if (!s.ok()) s = block_error(footer_.index.offset, s);
  }
  if (!s.ok()) return s;

  if (footer_.filter.size != 0 || footer_.filter.offset != 0) {
    if (!(s = read_meta_block(footer_.filter, "filter", &filter_data_)).ok()) return s;
    s = BloomFilter::parse(filter_data_, &filter_);
    if (!s.ok()) return block_error(footer_.filter.offset, s);
    has_filter_ = true;
  }
  return Status::OK();
}

Status read_compression_dictionary(const RandomAccessFile& file, std::string_view path,
                                   uint64_t data_end, bool verify_checksum,
                                   const TableProperties& properties,
                                   std::unique_ptr<DecompressionDictionary>* dictionary) {
  dictionary->reset();
  if (properties.dictionary_bytes == 0) return Status::OK();
  const BlockHandle handle{properties.dictionary_offset, properties.dictionary_bytes};
  Status s = check_block_handle(path, handle, data_end, "compression dictionary");
  if (!s.ok()) return s;
  std::string bytes;
  s = read_block(file, path, handle, verify_checksum, nullptr, &bytes);
  if (!s.ok()) return s;
  s = DecompressionDictionary::create(std::move(bytes), dictionary);
  if (!s.ok()) return block_corruption(path, handle.offset, s.message());
  return Status::OK();
}

Status TableReader::read_meta_block(const BlockHandle& handle, std::string_view what,
                                    std::string* contents) {
  Status s = check_block_handle(path_, handle, data_end_, what);
  if (!s.ok()) return s;
  // Meta blocks are never compressed with the dictionary.
  return read_block(*file_, path_, handle, options_.verify_checksums, nullptr, contents);
}

Status TableReader::block_error(uint64_t block_offset, const Status& s) const {
  if (s.is_corruption()) return block_corruption(path_, block_offset, s.message());
  return s;
}

Status TableReader::read_data_block(const TableReadOptions& read_options, const BlockHandle& handle,
                                    std::shared_ptr<const Block>* block) const {
  BlockCache* cache = options_.block_cache.get();
  if (cache != nullptr) {
    *block = cache->lookup(cache_id_, handle.offset);
    if (*block != nullptr) return Status::OK();
  }
  Status s;
  if (cache != nullptr) {
    // Read straight into the cache's own memory (block_memory.h).
    PooledBlockWriter writer(cache->memory());
    s = read_block(*file_, path_, handle, read_options.verify_checksums, dictionary_.get(),
                   &writer);
    if (!s.ok()) return s;
    s = writer.finish(block);
  } else {
    std::string contents;
    s = read_block(*file_, path_, handle, read_options.verify_checksums, dictionary_.get(),
                   &contents);
    if (!s.ok()) return s;
    s = Block::parse_shared(std::move(contents), block);
  }
  if (!s.ok()) return block_error(handle.offset, s);
  // A block read without checking its checksum is not cached: a later reader
  // that does verify must never be handed unverified bytes.
  if (cache != nullptr && read_options.fill_cache && read_options.verify_checksums) {
    cache->insert(cache_id_, handle.offset, *block);
  }
  return Status::OK();
}

bool TableReader::may_contain(std::string_view user_key) const {
  return !has_filter_ || filter_.may_contain(user_key);
}

Status TableReader::get(const TableReadOptions& read_options, std::string_view user_key,
                        uint64_t hash, SequenceNumber sequence, TableGetResult* result) const {
  result->found = false;
  result->value.clear();
  if (has_filter_) {
    const bool may = filter_.may_contain_hash(hash);
    if (TableStatistics* stats = options_.statistics.get()) {
      stats->bloom_checks.fetch_add(1, std::memory_order_relaxed);
      if (!may) stats->bloom_useful.fetch_add(1, std::memory_order_relaxed);
    }
    if (!may) return Status::OK();
  }
  // Per-thread scratch: the target and the iterator's key buffer keep their
  // capacity from one lookup to the next, so a lookup allocates nothing.
  thread_local struct {
    std::string target;
    BlockIterator data;
  } scratch;
  std::string& target = scratch.target;
  target.clear();
  append_internal_key(&target, user_key, std::min(sequence, kMaxSequenceNumber), kValueKindForSeek);

  for (size_t i = index_.lower_bound(target); i < index_.size(); ++i) {
    const BlockHandle& handle = index_.handle(i);
    std::shared_ptr<const Block> block;  // pins the block until this lookup is done
    Status s = read_data_block(read_options, handle, &block);
    if (!s.ok()) return s;
    BlockIterator& it = scratch.data;
    it.reset(block.get());
    it.seek(target);
    if (!it.status().ok()) return block_error(handle.offset, it.status());
    if (!it.valid()) continue;  // target is past this block's last key: look in the next block
    ParsedInternalKey parsed;
    if (!parse_internal_key(it.key(), &parsed)) {
      return block_corruption(path_, handle.offset, "malformed internal key");
    }
    if (parsed.user_key == user_key) {
      result->found = true;
      result->kind = parsed.kind;
      result->sequence = parsed.sequence;
      if (parsed.kind == ValueKind::kValue) result->value.assign(it.value());
    }
    return Status::OK();
  }
  return Status::OK();
}

Status TableReader::salvage(const std::function<void(std::string_view, std::string_view)>& entry,
                            const std::function<void(const Status&)>& damaged) const {
  const TableReadOptions read_options{/*verify_checksums=*/true, /*fill_cache=*/false};
  for (size_t i = 0; i < index_.size(); ++i) {
    const BlockHandle& handle = index_.handle(i);
    std::shared_ptr<const Block> block;
    Status s = read_data_block(read_options, handle, &block);
    if (!s.ok()) {
      if (!s.is_corruption()) return s;  // the file, not the block: nothing to go on with
      damaged(s);                        // names the file and the block's offset already
      continue;
    }
    BlockIterator it(block.get());
    ParsedInternalKey parsed;
    for (it.seek_to_first(); it.valid(); it.next()) {
      if (!parse_internal_key(it.key(), &parsed)) {
        damaged(block_corruption(path_, handle.offset, "malformed internal key"));
        break;
      }
      entry(it.key(), it.value());
    }
    if (!it.status().ok()) damaged(block_error(handle.offset, it.status()));
  }
  return Status::OK();
}

std::unique_ptr<InternalIterator> TableReader::new_iterator(
    const TableReadOptions& read_options) const {
  return std::make_unique<TableIterator>(this, read_options);
}

}  // namespace fsdb
